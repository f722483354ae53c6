"""Armed rules: "the software arms, the card fires". The rule table's contract, defined once.

A strategy arms a rule in the card's rule table (`cap_rules` entries) through the register map: it stages the
fields in `rule_locate`, `rule_kind`, `rule_threshold`, `rule_shares`, `rule_price`, `rule_tag`, `rule_fires`,
sets `rule_index` and writes `rule_write` (bit 0: arm; 0: disarm). `rule_writes` gives those writes. A
`rule_write` whose index is past `cap_rules` or whose fields are out of range (`Rule` lists the ranges) changes
nothing and counts `rule_writes_refused`. Arming an index that is armed replaces its rule and its fire count.

When a rule fires: every implementation (reference model, C++ card, gateware) does the same:

- A rule is evaluated on each top-of-book (BBO) event of its locate, on that event's values: the book after
  the message is applied. A message that leaves the top of book as it was emits no BBO event and fires
  nothing. A rule fires at most once per message (a message emits at most one BBO event per book).
- The FIRE events of a BBO event come right after it, before anything else, in rule-index order; LEVEL,
  TRADE and DEGRADED events of the message come before the BBO event, as ever. The FIRE event's common fields
  are the BBO event's (flags, locate, msg_type, seq, ts_exch, ts_local); `fire_*` carry the order.
- On a degraded book (the BBO event has the DEGRADED flag) no rule fires: a condition that holds there counts
  `rules_held_degraded`, and the rule keeps its fires.
- The conditions, in integers (bid_px, bid_sz, ask_px, ask_sz of the BBO event; a side is empty when its
  price is 0; `t` the threshold):
    ASK_AT_OR_BELOW     ask side not empty and ask_px <= t
    BID_AT_OR_ABOVE     bid side not empty and bid_px >= t
    SPREAD_AT_OR_BELOW  both sides not empty and ask_px <= bid_px + t     (a crossed book holds)
    BID_IMBALANCE       both sides not empty and bid_sz * 65536 >= t * ask_sz   (t: a Q16.16 ratio)
    ASK_IMBALANCE       both sides not empty and ask_sz * 65536 >= t * bid_sz
  (the products fit in 64 bits: sizes and t are below 2**32).
- The order's price: FIXED: `rule_price`; BID / ASK: that touch's price plus `rule_price` read as a signed
  32-bit offset. A condition that holds whose touch is empty or whose price falls outside 1 to 2**32 - 1
  does not fire and counts `rules_no_price` (the rule keeps its fires).
- Each fire takes one of the rule's fires; `fire_left` is what is left. At 0 the rule disarms itself and
  counts `rules_disarmed`. A host's disarm (`rule_write` 0) is not counted.
- `fire_tag` is the strategy's: the host gives each fired order its OUCH UserRefNum (they must increase per
  session), checks risk again at fire time, and sends it or refuses it (never anything else).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from .registers import REGISTER_MAP

__all__ = ["IMBALANCE_ONE", "MAX_RULES", "PriceMode", "Rule", "RuleCondition", "load_rules", "rule_writes",
           "rules_from_json"]

MAX_RULES = 1 << 16  # fire_rule is 16 bits
IMBALANCE_ONE = 1 << 16  # the ratio 1.0 of the imbalance conditions (Q16.16)
_U32 = (1 << 32) - 1
_TIFS = frozenset(b"0356E")  # OUCH 5.0 time in force: Day, IOC, GTX, GTT, After Hours


class RuleCondition(IntEnum):
    """What a rule watches on its book's top (bits 0-7 of `rule_kind`)."""

    ASK_AT_OR_BELOW = 1
    BID_AT_OR_ABOVE = 2
    SPREAD_AT_OR_BELOW = 3
    BID_IMBALANCE = 4
    ASK_IMBALANCE = 5


class PriceMode(IntEnum):
    """How the order's price is made (bits 8-15 of `rule_kind`)."""

    FIXED = 0  # rule_price
    BID = 1  # best bid + rule_price (signed)
    ASK = 2  # best ask + rule_price (signed)


@dataclass(frozen=True)
class Rule:
    """One rule: the locate it watches, its condition and threshold, and the order it fires.

    `price` is the limit price (FIXED) or a signed offset from the touch (BID, ASK), Price(4); `tif` the OUCH
    time-in-force byte as a character; `tag` the strategy's 32-bit value; `fires` how many times it fires
    before it disarms."""

    locate: int
    condition: RuleCondition
    threshold: int
    side: str
    shares: int
    price: int
    price_mode: PriceMode = PriceMode.FIXED
    tif: str = "0"
    tag: int = 0
    fires: int = 1

    def __post_init__(self) -> None:
        def u(name: str, lo: int, hi: int) -> None:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError(f"rule {name} must be an integer from {lo} to {hi}, not {v!r}")

        u("locate", 1, 0xFFFF)
        u("threshold", 0, _U32)
        u("shares", 1, _U32)
        u("tag", 0, _U32)
        u("fires", 1, _U32)
        try:
            object.__setattr__(self, "condition", RuleCondition(self.condition))
            object.__setattr__(self, "price_mode", PriceMode(self.price_mode))
        except ValueError as e:
            raise ValueError(f"rule: {e}") from None
        if self.side not in ("B", "S"):
            raise ValueError(f"rule side must be 'B' or 'S', not {self.side!r}")
        if not (isinstance(self.tif, str) and len(self.tif) == 1 and ord(self.tif) in _TIFS):
            raise ValueError(f"rule tif must be an OUCH 5.0 time in force (0, 3, 5, 6 or E), not {self.tif!r}")
        if self.price_mode is PriceMode.FIXED:
            u("price", 1, _U32)
        else:
            u("price", -(1 << 31), (1 << 31) - 1)

    @property
    def kind_word(self) -> int:
        """The `rule_kind` register's value."""
        return REGISTER_MAP.encode("rule_kind", condition=int(self.condition), price_mode=int(self.price_mode),
                                   side=ord(self.side), tif=ord(self.tif))

    @classmethod
    def from_registers(cls, locate: int, kind: int, threshold: int, shares: int, price: int, tag: int,
                       fires: int) -> Rule:
        """The rule staged in the registers; ValueError if a field is out of range (the write is refused)."""
        k = REGISTER_MAP.decode("rule_kind", kind)
        signed = price - (1 << 32) if price >> 31 and k["price_mode"] != PriceMode.FIXED else price
        return cls(locate & 0xFFFF, k["condition"], threshold, chr(k["side"]), shares, signed, k["price_mode"],
                   chr(k["tif"]), tag, fires)


def rule_writes(index: int, rule: Rule | None) -> list[tuple[str, int]]:
    """The register writes (name, value), in order, that arm `rule` at `index` (None: disarm it)."""
    if not isinstance(index, int) or not 0 <= index < MAX_RULES:
        raise ValueError(f"rule index must be 0 to {MAX_RULES - 1}, not {index!r}")
    enc = REGISTER_MAP.encode
    if rule is None:
        return [("rule_index", enc("rule_index", value=index)), ("rule_write", enc("rule_write", arm=0))]
    words = (("rule_threshold", rule.threshold), ("rule_shares", rule.shares), ("rule_price", rule.price & _U32),
             ("rule_tag", rule.tag), ("rule_fires", rule.fires), ("rule_index", index))
    return [("rule_locate", enc("rule_locate", value=rule.locate)), ("rule_kind", rule.kind_word),
            *((name, enc(name, value=value)) for name, value in words), ("rule_write", enc("rule_write", arm=1))]


_FIELDS = ("locate", "condition", "threshold", "side", "shares", "price", "price_mode", "tif", "tag", "fires")


def rules_from_json(obj: object, *, where: str = "rules") -> tuple[Rule | None, ...]:
    """A rule table from its JSON form: a list of objects, each with `index` (its entry) and the fields of
    `Rule` (`condition` and `price_mode` by name, lower case: "bid_imbalance", "ask"); entries not named are
    empty. ValueError naming the rule and the field for anything wrong."""
    if not isinstance(obj, list):
        raise ValueError(f"{where}: expected a list of rules, not {type(obj).__name__}")
    table: dict[int, Rule] = {}
    for n, item in enumerate(obj):
        at = f"{where}[{n}]"
        if not isinstance(item, dict):
            raise ValueError(f"{at}: expected an object")
        if unknown := sorted(set(item) - {"index", *_FIELDS}):
            raise ValueError(f"{at}: unknown fields {unknown}; known: index, {', '.join(_FIELDS)}")
        index = item.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MAX_RULES:
            raise ValueError(f"{at}: index must be an integer from 0 to {MAX_RULES - 1}, not {index!r}")
        if index in table:
            raise ValueError(f"{at}: index {index} given twice")
        fields = {k: v for k, v in item.items() if k != "index"}
        for key, enum in (("condition", RuleCondition), ("price_mode", PriceMode)):
            name = fields.get(key)
            if isinstance(name, str):
                if name.upper() not in enum.__members__:
                    known = ", ".join(m.lower() for m in enum.__members__)
                    raise ValueError(f"{at}: {key} {name!r} is not one of {known}")
                fields[key] = enum[name.upper()]
        if missing := [k for k in _FIELDS[:6] if k not in fields]:
            raise ValueError(f"{at}: missing {', '.join(missing)}")
        try:
            table[index] = Rule(**fields)
        except ValueError as e:
            raise ValueError(f"{at}: {e}") from None
    return tuple(table.get(i) for i in range(max(table, default=-1) + 1))


def load_rules(path: str | Path) -> tuple[Rule | None, ...]:
    """The rule table of a JSON file (`rules_from_json`)."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"rules file {path}: not JSON ({e})") from None
    return rules_from_json(obj, where=str(path))
