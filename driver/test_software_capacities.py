"""SoftwareCard (C++) against the reference model with capacities and level events: bounded levels,
the hashed order table, book slots, on generated and adversarial streams."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tickgate._driver import SoftwareCard, order_table_buckets
from tickgate.driver.test_software_card import assert_same, book_stream, timed
from tickgate.host.feeds import adversarial, pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.model.card import ReferenceCard
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import MAX_LEVEL_EVENTS_LEVELS, CardConfig, OrderTableConfig
from tickgate.protocol.events import EventKind
from tickgate.protocol.order_hash import MAX_BUCKET_BITS, buckets
from tickgate.protocol.packet import Packet

SMALL_TABLE = OrderTableConfig(bucket_bits=6, ways=2, stash=4)  # 260 entries: fails on generated streams


@pytest.fixture(scope="module")
def capacity_stream() -> list[Packet]:
    return timed(pack_messages(generate(20_000, 200, 21), end_of_session=True))


@pytest.mark.parametrize("config, degrades", [
    (dict(max_levels=3, level_events=True), True),
    (dict(max_levels=40, level_events=True), False),
    (dict(max_levels=2), True),
    (dict(order_table=SMALL_TABLE), True),
    (dict(order_table=OrderTableConfig()), False),
    (dict(max_symbols=60), True),
    (dict(order_table=SMALL_TABLE, max_levels=5, max_symbols=100, level_events=True), True),
], ids=lambda c: "-".join(f"{k}={v if not isinstance(v, OrderTableConfig) else v.capacity}" for k, v in c.items())
   if isinstance(c, dict) else str(c))
def test_generated_stream_with_capacities(config: dict, degrades: bool, capacity_stream: list[Packet]) -> None:
    packets = capacity_stream
    ev = assert_same(packets, **config)
    c = ReferenceCard(CardConfig(**config))
    c.run(packets)
    n = c.counters
    assert (n["degraded_symbols"] > 0) == degrades
    if not degrades:  # within capacity the books are exact: the events of the unbounded card, and levels
        unbounded = ReferenceCard().run(packets)
        assert np.array_equal(ev[ev["kind"] != EventKind.LEVEL], unbounded)
    if config.get("level_events"):
        assert (ev["kind"] == EventKind.LEVEL).sum() == n["events_level"] > 5_000
    if config.get("order_table") == SMALL_TABLE:
        assert n["order_table_full"] > 0 and n["order_table_stashed"] > 0 and n["order_table_second_choice"] > 0


ADVERSARIAL = adversarial.suite()
EVERYTHING = dict(order_table=OrderTableConfig(bucket_bits=4, ways=2, stash=3), max_levels=2, max_symbols=2,
                  level_events=True)


@pytest.mark.parametrize("name, packets, config", ADVERSARIAL, ids=[a[0] for a in ADVERSARIAL])
def test_adversarial_streams(name: str, packets: list[bytes], config: dict) -> None:
    assert_same(timed(packets), **config)
    assert_same(timed(packets), **EVERYTHING)
    assert_same(timed(packets), symbols={"HASH", "LVL2", "SYM3", "DUPB"}, max_levels=1, level_events=True)


def test_book_rules_with_levels() -> None:
    payloads = timed(mold.build("T", i + 1, [b]) for i, b in enumerate(book_stream()))
    for k in (1, 2, 255):
        ev = assert_same(payloads, max_levels=k, level_events=True)
        assert (ev["kind"] == EventKind.LEVEL).sum() > 10


def test_order_table_hash_is_the_protocol_one() -> None:
    refs = [0, 1, 2**64 - 1, 0x0001020304050607, *(random.Random(3).getrandbits(64) for _ in range(500))]
    for bits in range(1, MAX_BUCKET_BITS + 1):
        assert [order_table_buckets(r, bits) for r in refs] == [buckets(r, bits) for r in refs]


def test_capacity_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="max_levels"):
        SoftwareCard(max_levels=0)
    with pytest.raises(ValueError, match="max_symbols"):
        SoftwareCard(max_symbols=-1)
    with pytest.raises(ValueError, match="level_events"):
        SoftwareCard(level_events=True)
    with pytest.raises(ValueError, match="level_events"):
        SoftwareCard(max_levels=MAX_LEVEL_EVENTS_LEVELS + 1, level_events=True)
    assert SoftwareCard(max_levels=MAX_LEVEL_EVENTS_LEVELS, level_events=True).pending_events() == 0
    for bad, what in ((dict(bucket_bits=MAX_BUCKET_BITS + 1, ways=1, stash=0), "bucket_bits"),
                      (dict(bucket_bits=0, ways=1, stash=0), "bucket_bits"),
                      (dict(bucket_bits=4, ways=0, stash=0), "ways"),
                      (dict(bucket_bits=4, ways=1, stash=-1), "out of range")):
        with pytest.raises(ValueError, match=what):  # attributes as OrderTableConfig's, unchecked
            SoftwareCard(order_table=type("Table", (), bad)())
    assert SoftwareCard(order_table=OrderTableConfig(MAX_BUCKET_BITS, ways=1, stash=0)).pending_events() == 0
    with pytest.raises(ValueError, match="bucket_bits"):
        order_table_buckets(1, MAX_BUCKET_BITS + 1)
