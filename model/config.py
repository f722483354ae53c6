"""What the card is told (the configuration registers of the gateware, as one value)."""

from __future__ import annotations

from dataclasses import dataclass

from tickgate.protocol.registers import REGISTER_MAP

from .order_table import OrderTableConfig

__all__ = ["MAX_LEVEL_EVENTS_LEVELS", "CardConfig", "register_writes"]

MAX_LEVEL_EVENTS_LEVELS = 255  # max_levels with level events (level_index is one byte)


@dataclass(frozen=True)
class CardConfig:
    """What the card is told: which symbols to track (None: all), capacities (None: unbounded), session,
    and whether to emit LEVEL events (which needs `max_levels`, at most 255)."""

    symbols: frozenset[str] | None = None
    order_table: OrderTableConfig | None = None
    max_levels: int | None = None
    max_symbols: int | None = None
    session: bytes | None = None
    first_sequence: int | None = None
    level_events: bool = False

    def __post_init__(self) -> None:
        for name in ("max_levels", "max_symbols"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be at least 1 or None (unbounded), not {v}")
        if self.level_events and (self.max_levels is None or self.max_levels > MAX_LEVEL_EVENTS_LEVELS):
            raise ValueError(f"level_events needs max_levels set and at most {MAX_LEVEL_EVENTS_LEVELS}, "
                             f"not {self.max_levels}")
        if self.symbols is not None:
            bad = [s for s in self.symbols if not 1 <= len(s) <= 8]
            if bad:
                raise ValueError(f"ITCH symbols are 1 to 8 characters: {bad}")


def register_writes(config: CardConfig, *, clear_counters: bool = False) -> list[tuple[str, int]]:
    """The register writes (name, value), in order, that give a card this configuration's run-time part:
    the session, the first sequence, the names to track, and `control` last (which enables the card).
    Capacities are not registers: they are the image's (`cap_*`)."""
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
                   ("first_sequence_hi", enc("first_sequence_hi", value=config.first_sequence >> 32 & 0xFFFF_FFFF)),
                   ("first_sequence_en", enc("first_sequence_en", en=1))]
    if config.symbols is not None:
        for i, symbol in enumerate(sorted(config.symbols)):
            raw = symbol.encode("ascii").ljust(8)
            writes += [("symbol_index", enc("symbol_index", value=i)),
                       ("symbol_name_lo", enc("symbol_name_lo", value=int.from_bytes(raw[:4], "little"))),
                       ("symbol_name_hi", enc("symbol_name_hi", value=int.from_bytes(raw[4:], "little"))),
                       ("symbol_write", enc("symbol_write", set=1))]
    writes.append(("control", enc("control", enable=1, track_all=config.symbols is None,
                                  level_events=config.level_events, clear_counters=clear_counters)))
    return writes
