"""Armed rules on the strategy's side: `self.orders.arm(...)` writes a rule into the card's rule table through
its registers (`protocol.rules`); the card fires it. What became of each fire comes back here.

On the native order path with a C++ device, the device hands every collected batch to the `OrderPath` in C++
(`Device.attach_orders`): a FIRE event's order is risk checked and written to the socket before Python sees
the batch. Otherwise (the Python model backend, or the Python order path) the router sends the orders of the
FIRE events it is shown, through the same risk as any order. Either way a refused fire reaches the strategy
as a REJECTED update with its reason, and every fire's outcome as a `Fire` (`Strategy.on_fire`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tickgate.protocol.events import KIND_DTYPES, EventKind
from tickgate.protocol.registers import REGISTER_MAP
from tickgate.protocol.rules import PriceMode, Rule, RuleCondition, rule_writes

__all__ = ["ArmedRules", "Fire"]


_FIRE = int(EventKind.FIRE)
_FIRE_DTYPE = KIND_DTYPES[EventKind.FIRE]
_OFFSET = {r.name: r.offset for r in REGISTER_MAP}


@dataclass(frozen=True)
class Fire:
    """One fire of an armed rule and what the host made of it: `token` (the order's), `sent`, or `reason`."""

    rule: int
    tag: int
    token: int
    symbol: str
    side: str
    shares: int
    price: int
    seq: int
    sent: bool
    reason: str = ""
    left: int | None = None  # fires left to the rule (when known)
    rx_ns: int = 0  # receive time of the packet whose message fired it (perf_counter_ns clock; 0: unknown)
    sent_ns: int = 0  # when its bytes were written (0: not sent)


class ArmedRules:
    """The arming half of the order routers (a mixin): the device to write rules to, and the rules armed."""

    device = None  # the backend's device (set by the run); rules are written to its registers
    armed_rules: dict[int, Rule]
    fires_sent = 0
    fires_refused = 0

    def _init_armed(self) -> None:
        self.armed_rules = {}
        self.fire_log: list[Fire] = []  # delivered to the strategy with the updates

    def arm(self, index: int, symbol: str | int, condition: RuleCondition | str, threshold: int, side: str,
            shares: int, price: int, *, price_mode: PriceMode | str = PriceMode.FIXED, tif: str = "0", tag: int = 0,
            fires: int = 1) -> Rule:
        """Arm rule `index` of the card: when `condition` holds on `symbol`'s top of book after a message, the
        card fires `side` `shares` at `price` (Price(4); or an offset from the BID/ASK touch), `fires` times.
        Conditions: ask_at_or_below, bid_at_or_above, spread_at_or_below, bid_imbalance, ask_imbalance (the
        ratio in Q16.16: 3.0 is 3 << 16). Arming an armed index replaces it. The rule, validated."""
        cap = self._cap_rules()
        if not 0 <= index < cap:
            raise ValueError(f"arm: rule index {index} is past the card's rule table ({cap} entries, cap_rules)")
        locate = self._locate_of(symbol)
        rule = Rule(locate, _enum(RuleCondition, condition), threshold, side, shares, price,
                    _enum(PriceMode, price_mode), tif, tag, fires)
        self._write_rule(index, rule)
        self.armed_rules[index] = rule
        return rule

    def disarm(self, index: int) -> None:
        """Disarm rule `index` (nothing if it is not armed)."""
        self._write_rule(index, None)
        self.armed_rules.pop(index, None)

    def rule_left(self, index: int) -> int:
        """Fires left to rule `index`, read from the card (0: disarmed)."""
        dev = self._device()
        dev.write_register(_OFFSET["rule_index"], index)
        return dev.read_register(_OFFSET["rule_left"])

    def _cap_rules(self) -> int:
        dev = self._device()
        if self._cap is None or self._cap[0] is not dev:
            self._cap = (dev, dev.read_register(_OFFSET["cap_rules"]))
        return self._cap[1]

    _cap: tuple | None = None

    def _device(self):
        if self.device is None:
            raise RuntimeError("no device to arm rules on: the run sets router.device")
        return self.device

    def _write_rule(self, index: int, rule: Rule | None) -> None:
        dev = self._device()
        for name, value in rule_writes(index, rule):
            dev.write_register(_OFFSET[name], value)

    def _locate_of(self, symbol: str | int) -> int:
        if isinstance(symbol, int):
            return symbol
        locate = self.directory.by_symbol.get(symbol)  # type: ignore[attr-defined]
        if locate is None:
            raise ValueError(f"arm: no locate for {symbol!r} yet (arm it once its stock directory message is seen)")
        return locate

    def take_fire_log(self) -> list[Fire]:
        out, self.fire_log = self.fire_log, []
        return out

    @staticmethod
    def fire_records(batch):
        """The FIRE events of a batch, viewed with their fields (empty if none)."""
        kinds = batch["kind"]
        if not (kinds == _FIRE).any():
            return None
        return batch[kinds == _FIRE].view(_FIRE_DTYPE)


def _enum(cls, v):
    return cls[v.upper()] if isinstance(v, str) else cls(v)
