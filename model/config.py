"""What the card is told (the configuration registers of the gateware, as one value)."""

from __future__ import annotations

from dataclasses import dataclass

from .order_table import OrderTableConfig

__all__ = ["MAX_LEVEL_EVENTS_LEVELS", "CardConfig"]

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
