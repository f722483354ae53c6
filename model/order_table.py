"""The card's bounded order table, as a reference: which references find a place, and which do not.

Placement follows `protocol.order_hash` (2-left hashing): the table is two banks of buckets; a reference's
first bucket is in the left bank, its second in the right. It takes the lowest free way of whichever of
the two has more free ways (the left on a tie), else the lowest free stash entry, else the insert fails.
Entries are freed when their order is removed and are never moved. The order data itself lives in the
card; this models only where references fit. `ReferenceCard` counts inserts placed in the right bank
(`order_table_second_choice`), in the stash (`order_table_stashed`) and failed (`order_table_full`).
"""

from __future__ import annotations

from tickgate.protocol.config import OrderTableConfig
from tickgate.protocol.order_hash import buckets


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
