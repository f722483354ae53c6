"""The rule table of the reference model: armed rules evaluated on each BBO event, FIRE events after it.

The contract is `protocol.rules` (when a rule fires, the conditions in integers, the price, the counters);
this is its plain reading, the oracle of the C++ card and the gateware.
"""

from __future__ import annotations

from tickgate.protocol.events import EventFlag, EventKind
from tickgate.protocol.rules import IMBALANCE_ONE, PriceMode, Rule, RuleCondition

from .sink import EventSink

__all__ = ["RuleTable", "holds", "order_price"]

_FIRE = int(EventKind.FIRE)
_U32 = (1 << 32) - 1
#: The registers a rule_write stores, staged until then.
STAGED = ("rule_locate", "rule_kind", "rule_threshold", "rule_shares", "rule_price", "rule_tag", "rule_fires")


def holds(rule: Rule, bid_px: int, bid_sz: int, ask_px: int, ask_sz: int) -> bool:
    """Whether the rule's condition holds on this top of book (an empty side has price 0)."""
    t, c = rule.threshold, rule.condition
    if c is RuleCondition.ASK_AT_OR_BELOW:
        return ask_px != 0 and ask_px <= t
    if c is RuleCondition.BID_AT_OR_ABOVE:
        return bid_px != 0 and bid_px >= t
    if bid_px == 0 or ask_px == 0:
        return False
    if c is RuleCondition.SPREAD_AT_OR_BELOW:
        return ask_px <= bid_px + t
    if c is RuleCondition.BID_IMBALANCE:
        return bid_sz * IMBALANCE_ONE >= t * ask_sz
    return ask_sz * IMBALANCE_ONE >= t * bid_sz  # ASK_IMBALANCE


def order_price(rule: Rule, bid_px: int, ask_px: int) -> int | None:
    """The fired order's limit price, or None if there is none (empty touch, or outside 1 to 2**32 - 1)."""
    if rule.price_mode is PriceMode.FIXED:
        return rule.price
    touch = bid_px if rule.price_mode is PriceMode.BID else ask_px
    if touch == 0:
        return None
    price = touch + rule.price
    return price if 1 <= price <= _U32 else None


class RuleTable:
    """`capacity` entries, written through the rule registers, evaluated by `after_bbo`."""

    def __init__(self, capacity: int, counters: dict[str, int], sink: EventSink) -> None:
        self.capacity = capacity
        self.rules: list[Rule | None] = [None] * capacity
        self.left = [0] * capacity  # fires left; 0: disarmed
        self.by_locate: dict[int, list[int]] = {}  # armed rule indices per locate, ascending
        self.staged = dict.fromkeys(STAGED, 0)
        self.index = 0
        self._counters, self._sink = counters, sink

    # -- registers -----------------------------------------------------------------------------------------

    def write(self, name: str, value: int) -> None:
        """A write to one of the rule registers (`rule_index`, the staged fields, `rule_write`)."""
        value &= _U32
        if name == "rule_index":
            self.index = value
        elif name in self.staged:
            self.staged[name] = value
        elif name == "rule_write":
            self._command(value & 1)
        else:
            raise KeyError(f"{name} is not a writable rule register")

    def read(self, name: str) -> int:
        """The value of a rule register as the card reads it."""
        if name == "rule_left":
            return self.left[self.index] if self.index < self.capacity else 0
        if name == "rule_index":
            return self.index
        if name == "rule_write":
            return 0
        return self.staged[name]

    def _command(self, arm: int) -> None:
        i = self.index
        if i >= self.capacity:
            self._counters["rule_writes_refused"] += 1
            return
        if not arm:
            self._set(i, None)
            return
        s = self.staged
        try:
            rule = Rule.from_registers(s["rule_locate"], s["rule_kind"], s["rule_threshold"], s["rule_shares"],
                                       s["rule_price"], s["rule_tag"], s["rule_fires"])
        except ValueError:
            self._counters["rule_writes_refused"] += 1
            return
        self._set(i, rule)

    def arm(self, index: int, rule: Rule | None) -> None:
        """Arm `rule` at `index` (None: disarm), as the register writes of `protocol.rules.rule_writes` do."""
        if not 0 <= index < self.capacity:
            raise IndexError(f"rule index {index} past the table's {self.capacity} entries")
        self._set(index, rule)

    def _set(self, i: int, rule: Rule | None) -> None:
        old = self.rules[i]
        if old is not None and self.left[i]:
            self._unlist(i, old.locate)
        self.rules[i] = rule
        self.left[i] = rule.fires if rule is not None else 0
        if rule is not None:
            at = self.by_locate.setdefault(rule.locate, [])
            at.append(i)
            at.sort()

    def _unlist(self, i: int, locate: int) -> None:
        at = self.by_locate[locate]
        at.remove(i)
        if not at:
            del self.by_locate[locate]

    # -- evaluation ------------------------------------------------------------------------------------------

    def after_bbo(self, flags: int, locate: int, msg_type: int, seq: int, ts: int, rx_ns: int, bid_px: int,
                  bid_sz: int, ask_px: int, ask_sz: int) -> None:
        """Evaluate the armed rules of `locate` on a BBO event just emitted; their FIRE events follow it."""
        c = self._counters
        for i in tuple(self.by_locate.get(locate, ())):
            rule = self.rules[i]
            assert rule is not None
            if not holds(rule, bid_px, bid_sz, ask_px, ask_sz):
                continue
            if flags & EventFlag.DEGRADED:
                c["rules_held_degraded"] += 1
                continue
            price = order_price(rule, bid_px, ask_px)
            if price is None:
                c["rules_no_price"] += 1
                continue
            left = self.left[i] = self.left[i] - 1
            if left == 0:
                self._unlist(i, locate)
                c["rules_disarmed"] += 1
            self._sink.emit(_FIRE, flags, locate, msg_type, seq, ts, rx_ns, i, ord(rule.side), ord(rule.tif),
                            rule.shares, price, left, rule.tag, int(rule.condition))
