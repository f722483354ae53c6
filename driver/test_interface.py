"""One interface, every implementation: the reference model (`ModelDevice`), the C++ software card
(`SoftwareDevice`), the Verilated pipeline (`SimDevice`) and the PCIe card (`F1Device` on the fake card) pass
the same tests, through the same `Backend` and the same device operations, without asking which they are.

The sim library of GEOMETRY is built on first use (minutes; cached under build/sim/).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tickgate.host.backend import Backend, open_backend
from tickgate.host.backend_sim import SimOptions
from tickgate.host.feeds import pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import BookGeometry, CardConfig, OrderTableConfig
from tickgate.protocol.events import EVENT_DTYPE, comparable
from tickgate.protocol.registers import ID_MAGIC, MAP_VERSION, REGISTER_MAP, Control, counter_names

from .f1_fake_tree import make_tree

GEOMETRY = BookGeometry(symbols=64, levels=16, names=8, order_table=OrderTableConfig(bucket_bits=8, ways=4, stash=4))
CONFIG = CardConfig(order_table=GEOMETRY.order_table, max_levels=GEOMETRY.levels, max_symbols=GEOMETRY.symbols,
                    level_events=True)
KINDS = ("model", "software", "sim", "f1")
OFF = {r.name: r.offset for r in REGISTER_MAP}


@pytest.fixture(params=KINDS)
def open_card(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Backend]]:
    """Opens backends of one implementation, all configured with CONFIG (the f1 card: an image of GEOMETRY)."""
    opened: list[Backend] = []

    def make() -> Backend:
        if request.param == "sim":
            backend = open_backend("sim", CONFIG, sim=SimOptions(GEOMETRY))
        elif request.param == "f1":
            tree = make_tree(tmp_path / f"f1-{len(opened)}")
            t = GEOMETRY.order_table
            fake = tree.fake(order_table=t, max_levels=GEOMETRY.levels, max_symbols=GEOMETRY.symbols,
                             level_events=True)
            backend = open_backend("f1", CONFIG, f1=tree.options(fake, timeout_s=5.0))
        else:
            backend = open_backend(request.param, CONFIG)
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        backend.close()


def packets(messages: int = 3_000, symbols: int = 40, seed: int = 5) -> list[tuple[bytes, int]]:
    return [(p, 1_000 + 7 * i) for i, p in enumerate(pack_messages(generate(messages, symbols, seed)))]


def reference(pk: list[tuple[bytes, int]]) -> tuple[np.ndarray, dict[str, int]]:
    model = open_backend("model", CONFIG)
    for p, rx in pk:
        model.feed(p, rx)
    return model.take_events(), model.counters()


def assert_same_events(got: np.ndarray, want: np.ndarray) -> None:
    assert len(got) == len(want) and np.array_equal(comparable(got), comparable(want))


def test_events_and_counters_equal_the_models(open_card: Callable[[], Backend]) -> None:
    backend = open_card()
    pk = packets()
    parts = []
    for i, (p, rx) in enumerate(pk, 1):
        backend.feed(p, rx)
        if i % 97 == 0:
            parts.append(backend.take_events())
    parts.append(backend.take_events())
    want, want_counters = reference(pk)
    assert len(want) > 1_000
    assert_same_events(np.concatenate(parts), want)
    counters = backend.counters()
    assert list(counters) == list(counter_names())
    kept = {k: v for k, v in counters.items() if v}
    assert kept == {k: v for k, v in want_counters.items() if v}


def test_collect_into_the_callers_buffer(open_card: Callable[[], Backend]) -> None:
    """DMA batches in (`submit`), events out in small pieces into one preallocated buffer (`collect`)."""
    device = open_card().device
    pk = packets(1_500)
    buf = np.zeros(1 << 14, dtype=EVENT_DTYPE)
    pos = 0
    for i in range(0, len(pk), 200):
        batch = mold.pack_dma(pk[i:i + 200])
        assert device.submit(batch) == len(batch)
        device.settle()
        while waiting := device.pending():
            n = device.collect(buf.view("V64")[pos:pos + min(7, waiting)])
            assert 0 < n <= 7
            pos += n
    assert device.collect(buf[pos:]) == 0
    assert_same_events(buf[:pos], reference(pk)[0])


def test_a_packet_at_a_time(open_card: Callable[[], Backend]) -> None:
    """`tick` (one packet as its own batch, its events at once) gives what batches give."""
    backend = open_card()
    pk = packets(1_500)
    buf = np.zeros(1 << 14, dtype=EVENT_DTYPE)
    pos = 0
    for p, rx in pk:
        pos += backend.tick(p, rx, buf[pos:])
    assert backend.pending_events() == 0
    assert_same_events(buf[:pos], reference(pk)[0])


def test_registers_and_identify(open_card: Callable[[], Backend]) -> None:
    device = open_card().device
    assert device.read_register(OFF["id"]) == ID_MAGIC
    assert device.read_register(OFF["map_version"]) == MAP_VERSION
    assert device.read_register(OFF["cap_levels"]) == GEOMETRY.levels
    assert device.read_register(OFF["cap_symbols"]) == GEOMETRY.symbols
    assert device.read_register(OFF["control"]) & Control.ENABLE
    ident = device.identify()
    assert ident["backend"] in KINDS and ident["location"]
    assert (ident["id"], ident["map_version"], ident["cap_levels"]) == (ID_MAGIC, MAP_VERSION, GEOMETRY.levels)
    with pytest.raises(OSError, match="0xffc"):
        device.write_register(0xFFC, 1)  # no register there


def test_clear_counters_and_reset(open_card: Callable[[], Backend]) -> None:
    backend = open_card()
    device = backend.device
    pk = packets(1_000)
    for p, rx in pk[:20]:
        backend.feed(p, rx)
    assert backend.counters()["messages"] > 0
    device.write_register(OFF["control"], device.read_register(OFF["control"]) | Control.CLEAR_COUNTERS)
    backend.feed(mold.heartbeat(pk[0][0][:10], 21))  # the fake f1 card applies a write at its next transfer
    assert backend.counters()["messages"] == 0
    assert device.read_register64(OFF["messages"]) == 0
    backend.feed(*pk[20])
    assert backend.pending_events() > 0
    backend.feed(*pk[21])
    backend.reset()  # counters cleared, queued packets and waiting events dropped (books: see each device)
    assert backend.pending_events() == 0
    backend.feed(mold.heartbeat(pk[0][0][:10], 21))  # (the fake f1 card's next transfer)
    assert backend.counters()["messages"] == 0


def test_close(open_card: Callable[[], Backend]) -> None:
    backend = open_card()
    backend.close()
    with pytest.raises(OSError, match="closed"):
        backend.device.pending()
    backend.close()  # twice is fine
