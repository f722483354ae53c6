"""The adversarial streams: well-formed, deterministic, small, and each reaching what it is built for."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from tickgate.host.feeds import adversarial as adv
from tickgate.model.card import ReferenceCard
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import CardConfig, OrderTableConfig
from tickgate.protocol.events import KIND_DTYPES, EventKind
from tickgate.protocol.order_hash import buckets
from tickgate.protocol.packet import Packet


def messages(packets: list[bytes]) -> list[bytes]:
    """Every message of the packets, checking sequence numbers run on from 1 and the session ends."""
    out: list[bytes] = []
    for p in packets[:-1]:
        h = mold.parse_header(p)
        assert h.sequence_number == len(out) + 1
        out += list(mold.blocks(p))
    assert mold.parse_header(packets[-1]).message_count == mold.END_OF_SESSION
    return out


def run(packets: list[bytes], **config) -> tuple[np.ndarray, dict[str, int]]:
    card = ReferenceCard(CardConfig(**config))
    return card.run([Packet(p) for p in packets]), card.counters


@pytest.mark.parametrize("bits", [1, 4, 13, 16])
def test_refs_in_buckets(bits: int) -> None:
    pair = ((1 << bits) - 1, 5 % (1 << bits))
    refs = adv.refs_in_buckets(bits, *pair, 40)
    assert len(set(refs)) == 40 and 0 not in refs
    assert all(buckets(r, bits) == pair for r in refs)
    assert adv.refs_in_buckets(bits, *pair, 10, skip=30) == refs[30:40]
    with pytest.raises(ValueError, match="out of range"):
        adv.refs_in_buckets(bits, 1 << bits, 0, 1)


@pytest.mark.parametrize("name", [s[0] for s in adv.suite()])
def test_streams_are_well_formed_deterministic_and_small(name: str) -> None:
    a = {n: p for n, p, _ in adv.suite()}
    b = {n: p for n, p, _ in adv.suite()}
    assert a[name] == b[name]
    msgs = messages(a[name])
    assert 100 <= len(msgs) <= 3000
    for m in msgs:
        assert itch.encode(itch.decode(m)) == m
    ts = [itch.decode(m).timestamp for m in msgs]
    assert ts == sorted(ts)


def test_hash_collisions_fill_both_buckets_and_the_stash_then_fail() -> None:
    packets = adv.hash_collisions(13, 8, 16)
    msgs = [itch.decode(m) for m in messages(packets)]
    adds = Counter(buckets(m.order_reference_number, 13) for m in msgs if m.message_type in "AF")
    [n] = [c for c in adds.values() if c > 2 * 8 + 16][:1]  # a pair past both buckets + stash
    assert n >= 2 * 8 + 16 + 3
    _, c = run(packets, order_table=OrderTableConfig(13, 8, 16))
    assert (c["order_table_full"], c["order_table_stashed"], c["order_table_second_choice"]) == (25, 65, 83)
    assert (c["unknown_ref"], c["duplicate_ref"], c["degraded_symbols"]) == (57, 13, 2)
    _, unbounded = run(packets)
    assert unbounded["order_table_full"] == 0 and unbounded["unknown_ref"] < c["unknown_ref"]
    types = Counter(m.message_type for m in msgs)
    assert all(types[t] > 0 for t in "AFECXDU")
    # message by message: operations on references whose insert failed, and re-adds after deletions
    card = ReferenceCard(CardConfig(order_table=OrderTableConfig(13, 8, 16)))
    failed, gone, seen = set(), set(), Counter()
    for i, m in enumerate(msgs):
        t = m.message_type
        ref = m.original_order_reference_number if t == "U" else getattr(m, "order_reference_number", None)
        if t in "ECXDU" and ref in failed:
            seen["op on failed"] += 1
        if t in "AF" and ref in gone:
            seen["re-add"] += 1
        before = set(card.orders)
        card.feed(mold.build("T", i + 1, [itch.encode(m)]))
        if t in "AFU":
            new = m.new_order_reference_number if t == "U" else ref
            (failed.add if new not in card.orders else failed.discard)(new)
        gone |= before - set(card.orders)
    assert seen["op on failed"] >= 10 and seen["re-add"] >= 10, seen


def test_level_overflow_reaches_every_level_rule() -> None:
    packets = adv.level_overflow(4)
    ev, c = run(packets, max_levels=4, level_events=True)
    assert (c["levels_full"], c["level_missing"], c["degraded_symbols"]) == (521, 566, 2)
    lv = ev[ev["kind"] == EventKind.LEVEL].view(KIND_DTYPES[EventKind.LEVEL])
    seen = Counter((chr(a), int(i)) for a, i in zip(lv["level_action"], lv["level_index"], strict=True))
    for action in "NCD":
        for index in range(4):
            assert seen[(action, index)] > 0, (action, index)
    assert max(lv["level_index"]) == 3
    _, unbounded = run(packets)
    assert unbounded["levels_full"] == unbounded["level_missing"] == 0


def test_symbol_overflow_refuses_the_extra_symbols() -> None:
    packets = adv.symbol_overflow(4, extra=4)
    ev, c = run(packets, max_symbols=4)
    assert (c["symbols_full"], c["degraded_symbols"]) == (5, 5)  # 4 named and one never named
    assert len(set(ev["locate"][ev["kind"] == EventKind.BBO].tolist())) == 4
    msgs = [itch.decode(m) for m in messages(packets)]
    assert {m.stock_locate for m in msgs if m.message_type in "AFPH"} == set(range(1, 10))


def test_duplicates_and_faults_are_counted() -> None:
    ev, c = run(adv.duplicates_and_faults())
    assert (c["unknown_ref"], c["duplicate_ref"], c["oversized_reduce"], c["invalid_order"]) == (21, 20, 8, 20)
    assert c["untracked_symbol"] == 0  # tracking all: locate 9 has a book without a name
    bbo = ev[ev["kind"] == EventKind.BBO]
    per_msg = Counter(bbo["seq"].tolist())
    assert any(n == 2 for n in per_msg.values())  # a duplicate reference moved between books
    _, named = run(adv.duplicates_and_faults(), symbols=frozenset({"DUPA", "DUPB", "DUPC"}))
    assert named["untracked_symbol"] == 12  # locate 9: A, E and P in each of 4 rounds
