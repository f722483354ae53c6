"""What the card is told and what it holds, validated once, here: the run-time configuration (`CardConfig`,
the configuration registers of the gateware as one value), the order table's geometry (`OrderTableConfig`)
and an image's capacities (`BookGeometry`). Every layer (model, gateware, drivers, host) takes these."""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import KIND_FIELDS, EventKind
from .moldudp64 import HEADER
from .order_hash import MAX_BUCKET_BITS
from .registers import REGISTER_MAP
from .rules import MAX_RULES, Rule, rule_writes

__all__ = [
    "LINE_WINDOW",
    "LOCATES",
    "MAX_LEVELS",
    "MAX_LEVEL_EVENTS_LEVELS",
    "MAX_LEVEL_SHARES",
    "MAX_LINE_WINDOW",
    "MAX_NAMES",
    "BookGeometry",
    "CardConfig",
    "OrderTableConfig",
    "register_writes",
]

MAX_LEVEL_EVENTS_LEVELS = 255  # max_levels with level events (level_index is one byte)
#: A/B lines (`model.lines`): how many packets one line may run ahead of the other while the arbiter waits
#: for the other's copy of what it lost; the largest window an image holds (bits 8-15 of `lines`), and the
#: default: at 1 % loss per line, the lines' copies of a packet arrive within a packet or two of each other.
MAX_LINE_WINDOW = (1 << REGISTER_MAP["lines"].field("window").width) - 1  # 255
LINE_WINDOW = 16
LOCATES = 1 << 16  # ITCH stock locates are 16-bit: the most book slots an image can have
MAX_LEVELS = 255  # price levels per side an image can hold
MAX_NAMES = 4096  # symbol-name table entries an image can hold
#: The most shares a price level holds: the width of the events' size fields (`bid_sz`, `level_sz`). Past it
#: a level saturates and its side overflows (`model.book`).
MAX_LEVEL_SHARES = (1 << 8 * next(f.width for f in KIND_FIELDS[EventKind.BBO] if f.name == "bid_sz")) - 1
SESSION_LEN, SEQ_BITS = HEADER[0].width, 8 * HEADER[1].width  # the MoldUDP64 header's session and sequence


@dataclass(frozen=True)
class OrderTableConfig:
    """Geometry of the order table: two banks of `2**bucket_bits` buckets of `ways` entries, and a stash."""

    # 8-way buckets: measured under churn (sequential new references, random deletions), 8 ways lose no
    # insert up to 70% load where 4 ways lose 1.8% at 60% (model/test_order_table.py, issue notes).
    bucket_bits: int = 13
    ways: int = 8
    stash: int = 16

    def __post_init__(self) -> None:
        if not 1 <= self.bucket_bits <= MAX_BUCKET_BITS:
            raise ValueError(f"bucket_bits must be 1 to {MAX_BUCKET_BITS}, not {self.bucket_bits}")
        if self.ways < 1:
            raise ValueError(f"ways must be at least 1, not {self.ways}")
        if self.stash < 0:
            raise ValueError(f"stash must be 0 or more, not {self.stash}")

    @classmethod
    def parse(cls, spec: str) -> OrderTableConfig:
        """From `BITS:WAYS:STASH` (the command line's form)."""
        parts = spec.split(":")
        if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"order table {spec!r}: expected BITS:WAYS:STASH")
        bits, ways, stash = (int(p) for p in parts)
        return cls(bucket_bits=bits, ways=ways, stash=stash)

    @property
    def capacity(self) -> int:
        return 2 * (1 << self.bucket_bits) * self.ways + self.stash


@dataclass(frozen=True)
class BookGeometry:
    """An image's capacities: book slots, price levels per side, symbol names, and the order table."""

    symbols: int = 256
    levels: int = 16
    names: int = 64
    order_table: OrderTableConfig = field(default_factory=OrderTableConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.symbols, int) or not 1 <= self.symbols <= LOCATES:
            raise ValueError(f"symbols must be 1 to {LOCATES}, not {self.symbols!r}")
        if not isinstance(self.levels, int) or not 1 <= self.levels <= MAX_LEVELS:
            raise ValueError(f"levels per side must be 1 to {MAX_LEVELS}, not {self.levels!r}")
        if not isinstance(self.names, int) or not 1 <= self.names <= MAX_NAMES:
            raise ValueError(f"names must be 1 to {MAX_NAMES}, not {self.names!r}")
        if not isinstance(self.order_table, OrderTableConfig):
            raise TypeError(f"order_table must be an OrderTableConfig, not {self.order_table!r}")

    @property
    def slot_bits(self) -> int:
        return max(1, (self.symbols - 1).bit_length())


@dataclass(frozen=True)
class CardConfig:
    """What the card is told: which symbols to track (None: all), capacities (None: unbounded), session,
    whether to emit LEVEL events (which needs `max_levels`, at most 255), and whether the card takes two
    lines, A and B (`line_window`, in packets: `model.lines`; None: one line).

    Validated here, once, for every implementation (each backend is configured from a CardConfig): a symbol
    is 1 to 8 printable ASCII characters without spaces (the wire pads with spaces); `session` is the 10
    bytes of a MoldUDP64 session as on the wire, printable ASCII (space-padded); `first_sequence` a 64-bit
    sequence number, 0 to 2**64 - 1; capacities integers of at least 1."""

    symbols: frozenset[str] | None = None
    order_table: OrderTableConfig | None = None
    max_levels: int | None = None
    max_symbols: int | None = None
    session: bytes | None = None
    first_sequence: int | None = None
    level_events: bool = False
    line_window: int | None = None
    #: Entries of the rule table (`protocol.rules`), and the rules armed when the card is configured (the
    #: rule at position i armed at index i; None leaves an entry empty). Strategies arm more at run time.
    max_rules: int = 64
    rules: tuple[Rule | None, ...] = ()

    def __post_init__(self) -> None:
        w = self.line_window
        if w is not None and (not isinstance(w, int) or isinstance(w, bool) or not 0 <= w <= MAX_LINE_WINDOW):
            raise ValueError(f"line_window must be an integer from 0 to {MAX_LINE_WINDOW} packets, or None (one "
                             f"line), not {w!r}")
        for name in ("max_levels", "max_symbols"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be an integer of at least 1 or None (unbounded), not {v!r}")
        if self.level_events and (self.max_levels is None or self.max_levels > MAX_LEVEL_EVENTS_LEVELS):
            raise ValueError(f"level_events needs max_levels set and at most {MAX_LEVEL_EVENTS_LEVELS}, "
                             f"not {self.max_levels}")
        if self.order_table is not None and not isinstance(self.order_table, OrderTableConfig):
            raise ValueError(f"order_table must be an OrderTableConfig or None, not {self.order_table!r}")
        if self.symbols is not None:
            if isinstance(self.symbols, str | bytes):
                raise ValueError(f"symbols must be a set of names, not the one string {self.symbols!r}")
            bad = sorted(repr(s) for s in self.symbols if not _symbol_ok(s))
            if bad:
                raise ValueError(f"ITCH symbols are 1 to 8 printable ASCII characters without spaces: "
                                 f"{', '.join(bad)}")
        if self.session is not None and not (isinstance(self.session, bytes) and len(self.session) == SESSION_LEN
                                             and all(0x20 <= b < 0x7F for b in self.session)):
            raise ValueError(f"session must be the {SESSION_LEN} bytes of a MoldUDP64 session, printable ASCII "
                             f"(space-padded), not {self.session!r}")
        mr = self.max_rules
        if not isinstance(mr, int) or isinstance(mr, bool) or not 1 <= mr <= MAX_RULES:
            raise ValueError(f"max_rules must be an integer from 1 to {MAX_RULES}, not {mr!r}")
        if not isinstance(self.rules, tuple) or not all(r is None or isinstance(r, Rule) for r in self.rules):
            raise ValueError(f"rules must be a tuple of Rule or None, not {self.rules!r}")
        if len(self.rules) > mr:
            raise ValueError(f"{len(self.rules)} rules do not fit a rule table of max_rules={mr}")
        fs = self.first_sequence
        if fs is not None and (not isinstance(fs, int) or isinstance(fs, bool) or not 0 <= fs < 1 << SEQ_BITS):
            raise ValueError(f"first_sequence must be an integer from 0 to 2**{SEQ_BITS} - 1, not {fs!r}")


def _symbol_ok(s: object) -> bool:
    return isinstance(s, str) and 1 <= len(s) <= 8 and all("!" <= ch <= "~" for ch in s)


def register_writes(config: CardConfig, *, clear_counters: bool = False) -> list[tuple[str, int]]:
    """The register writes (name, value), in order, that give a card this configuration's run-time part:
    the session, the first sequence, the names to track, the rules to arm, and `control` last (which enables
    the card). Capacities are not registers: they are the image's (`cap_*`)."""
    enc = REGISTER_MAP.encode
    writes: list[tuple[str, int]] = []
    if config.session is not None:
        raw = config.session.ljust(10)
        writes += [("session_0", enc("session_0", value=int.from_bytes(raw[0:4], "little"))),
                   ("session_1", enc("session_1", value=int.from_bytes(raw[4:8], "little"))),
                   ("session_2", enc("session_2", value=int.from_bytes(raw[8:10], "little"))),
                   ("session_en", enc("session_en", en=1))]
    if config.first_sequence is not None:
        writes += [("first_sequence_lo", enc("first_sequence_lo", value=config.first_sequence & 0xFFFF_FFFF)),
                   ("first_sequence_hi", enc("first_sequence_hi", value=config.first_sequence >> 32)),
                   ("first_sequence_en", enc("first_sequence_en", en=1))]
    if config.line_window is not None:
        writes.append(("lines", enc("lines", two_lines=1, window=config.line_window)))
    if config.symbols is not None:
        for i, symbol in enumerate(sorted(config.symbols)):
            raw = symbol.encode("ascii").ljust(8)
            writes += [("symbol_index", enc("symbol_index", value=i)),
                       ("symbol_name_lo", enc("symbol_name_lo", value=int.from_bytes(raw[:4], "little"))),
                       ("symbol_name_hi", enc("symbol_name_hi", value=int.from_bytes(raw[4:], "little"))),
                       ("symbol_write", enc("symbol_write", set=1))]
    for i, rule in enumerate(config.rules):
        if rule is not None:
            writes += rule_writes(i, rule)
    writes.append(("control", enc("control", enable=1, track_all=config.symbols is None,
                                  level_events=config.level_events, clear_counters=clear_counters)))
    return writes
