"""The card's bounded order table, as a reference: which references find a place, and which do not.

Placement follows `protocol.order_hash` (2-left hashing): the table is two banks of buckets; a reference's
first bucket is in the left bank, its second in the right. It takes the lowest free way of whichever of
the two has more free ways (the left on a tie), else the lowest free stash entry, else the insert fails.
Entries are freed when their order is removed and are never moved. The order data itself lives in the
card; this models only where references fit. `ReferenceCard` counts inserts placed in the right bank
(`order_table_second_choice`), in the stash (`order_table_stashed`) and failed (`order_table_full`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tickgate.protocol.order_hash import MAX_BUCKET_BITS, buckets


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

    @property
    def capacity(self) -> int:
        return 2 * (1 << self.bucket_bits) * self.ways + self.stash


class OrderTable:
    """Where each live reference sits: (bank, bucket, way), bank -1 for the stash; counts what it did."""

    def __init__(self, config: OrderTableConfig) -> None:
        self.config = config
        n = 1 << config.bucket_bits
        self._banks: tuple[list[list[int | None]], ...] = tuple([[None] * config.ways for _ in range(n)]
                                                                for _bank in range(2))
        self._stash: list[int | None] = [None] * config.stash
        self._where: dict[int, tuple[int, int, int]] = {}  # ref -> (bank or -1 for the stash, bucket, way)
        self.second_choice = 0  # inserts placed in the right bank
        self.stashed = 0  # inserts that found both buckets full
        self.failed = 0  # inserts that found no place

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, ref: int) -> bool:
        return ref in self._where

    def insert(self, ref: int) -> bool:
        """Place a reference that is not in the table; False if there is no room for it."""
        if ref in self._where:
            raise KeyError(f"order reference {ref} is already in the table")
        b0, b1 = buckets(ref, self.config.bucket_bits)
        left, right = self._banks[0][b0], self._banks[1][b1]
        free_left, free_right = left.count(None), right.count(None)
        if free_left or free_right:
            bank, bucket, row = (1, b1, right) if free_right > free_left else (0, b0, left)
            way = row.index(None)
            row[way] = ref
            self._where[ref] = (bank, bucket, way)
            self.second_choice += bank
            return True
        for i, held in enumerate(self._stash):
            if held is None:
                self._stash[i] = ref
                self._where[ref] = (-1, 0, i)
                self.stashed += 1
                return True
        self.failed += 1
        return False

    def remove(self, ref: int) -> None:
        """Free a reference's entry."""
        bank, bucket, slot = self._where.pop(ref)
        if bank < 0:
            self._stash[slot] = None
        else:
            self._banks[bank][bucket][slot] = None

    def where(self, ref: int) -> tuple[int, int, int] | None:
        """(bank, bucket, way), or (-1, 0, stash index), or None if the reference is not in the table."""
        return self._where.get(ref)
