"""The bounded order table: placement by the shared hash, collisions, stash, failure, reuse."""

from __future__ import annotations

import pytest

from tickgate.model.order_table import OrderTable
from tickgate.protocol.config import OrderTableConfig
from tickgate.protocol.order_hash import buckets, crc32c_u64


def test_crc32c_is_the_standard_one():
    # CRC-32C of the 8 bytes 00..07 computed independently with the bitwise definition
    def bitwise(data: bytes) -> int:
        crc = 0xFFFFFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        return crc ^ 0xFFFFFFFF

    for ref in (0, 1, 0x0001020304050607, 2**64 - 1, 123456789):
        assert crc32c_u64(ref) == bitwise(ref.to_bytes(8, "big"))
    b0, b1 = buckets(0x0001020304050607, 10)
    assert 0 <= b0 < 1024 and 0 <= b1 < 1024


def colliding(bucket_bits: int, n: int, start: int = 1) -> list[int]:
    """`n` references whose first and second buckets are both bucket 0 (found by search)."""
    out, ref = [], start
    while len(out) < n:
        if buckets(ref, bucket_bits) == (0, 0):
            out.append(ref)
        ref += 1
    return out


def test_collisions_balance_the_two_banks_then_use_the_stash_then_fail():
    t = OrderTable(OrderTableConfig(bucket_bits=4, ways=2, stash=2))
    refs = colliding(4, 7)
    assert [t.insert(r) for r in refs] == [True] * 6 + [False]
    # left on a tie, else the bank with more free ways; then the stash
    assert [t.where(r) for r in refs[:6]] == [(0, 0, 0), (1, 0, 0), (0, 0, 1), (1, 0, 1), (-1, 0, 0), (-1, 0, 1)]
    assert (t.second_choice, t.stashed, t.failed, len(t)) == (2, 2, 1, 6)
    t.remove(refs[1])
    assert t.insert(refs[6]) and t.where(refs[6]) == (1, 0, 0)  # freed ways are reused, nothing moves


def test_sequential_references_at_half_load_all_fit():
    t = OrderTable(OrderTableConfig(bucket_bits=10, ways=4, stash=16))
    n = t.config.capacity // 2
    assert sum(t.insert(r) for r in range(1_000_000, 1_000_000 + n)) == n
    assert t.failed == 0 and t.stashed == 0 and 0 < t.second_choice < n


def test_bad_geometry_and_double_insert():
    with pytest.raises(ValueError, match="bucket_bits"):
        OrderTableConfig(bucket_bits=17)
    with pytest.raises(ValueError, match="ways"):
        OrderTableConfig(ways=0)
    t = OrderTable(OrderTableConfig(bucket_bits=2))
    t.insert(5)
    with pytest.raises(KeyError):
        t.insert(5)
    assert OrderTableConfig(bucket_bits=14, ways=4, stash=16).capacity == 131_088


def test_default_geometry_holds_a_churning_book_at_70_percent_load():
    """Sequential new references and random deletions, as a day goes: no insert may fail at 70% load."""
    import random

    config = OrderTableConfig(bucket_bits=8, ways=8, stash=16)  # the default's shape, smaller
    assert (config.ways, config.stash) == (OrderTableConfig().ways, OrderTableConfig().stash)
    t, rng, live, ref = OrderTable(config), random.Random(1), [], 5_000_000
    for _ in range(int(0.7 * (config.capacity - config.stash))):
        ref += 1
        live.append(ref)
        assert t.insert(ref)
    for _ in range(20_000):
        k = rng.randrange(len(live))
        live[k], gone = live[-1], live[k]
        live.pop()
        t.remove(gone)
        ref += 1
        live.append(ref)
        assert t.insert(ref)
    assert t.failed == 0
