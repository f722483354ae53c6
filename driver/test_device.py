"""The Device interface through its software backend (`SoftwareDevice`): the SoftwareCard's events and
counters, the register map's registers, reset, identify, and refusals that say why."""

from __future__ import annotations

import numpy as np
import pytest

from tickgate import _driver
from tickgate.host.feeds import pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import OrderTableConfig
from tickgate.protocol.events import EVENT_DTYPE, EventKind
from tickgate.protocol.registers import COUNTERS, ID_MAGIC, MAP_VERSION, REGISTER_MAP

OFF = {r.name: r.offset for r in REGISTER_MAP}


def batches(messages: int = 20_000, symbols: int = 50, seed: int = 3, per_batch: int = 300) -> list[np.ndarray]:
    packets = [(p, 1_000 + 37 * i) for i, p in enumerate(pack_messages(generate(messages, symbols, seed)))]
    return [np.frombuffer(mold.pack_dma(packets[i:i + per_batch]), dtype=np.uint8)
            for i in range(0, len(packets), per_batch)]


def collect_all(dev: _driver.Device, chunk: int = 1 << 12) -> np.ndarray:
    parts = []
    out = np.empty(chunk, dtype=EVENT_DTYPE)
    while n := dev.collect(out):
        parts.append(out[:n].copy())
    return np.concatenate(parts) if parts else np.empty(0, dtype=EVENT_DTYPE)


def take_all(card: _driver.SoftwareCard) -> np.ndarray:
    out = np.empty(card.pending_events(), dtype=EVENT_DTYPE)
    return out[: card.take_events(out)]


def test_same_events_and_counters_as_the_software_card() -> None:
    dev, card = _driver.SoftwareDevice(), _driver.SoftwareCard()
    ours, theirs = [], []
    for b in batches():
        assert dev.submit(b) == len(b)
        card.feed_dma(b)
        assert dev.pending() == card.pending_events()
        ours.append(collect_all(dev, chunk=7))
        theirs.append(take_all(card))
    a, b = np.concatenate(ours), np.concatenate(theirs)
    assert len(a) > 5_000 and a.tobytes() == b.tobytes()
    assert dev.counters() == card.counters()
    assert dev.pending() == 0


def test_registers() -> None:
    dev = _driver.SoftwareDevice()
    for b in batches(5_000):
        dev.submit(b)
    assert dev.read_register(OFF["id"]) == ID_MAGIC
    assert dev.read_register(OFF["map_version"]) == MAP_VERSION
    assert dev.read_register(OFF["control"]) == 0b101  # enabled, tracking all symbols
    assert dev.read_register(OFF["events_ready"]) == dev.pending() > 0
    assert dev.read_register(OFF["ingress_free"]) == 0x7FFFFFFF
    assert dev.read_register(OFF["latency_min"]) == 0xFFFFFFFF  # nothing measured
    assert [dev.read_register(OFF[n]) for n in ("cap_orders", "cap_levels", "cap_symbols")] == [0, 0, 0]
    counters = dev.counters()
    assert list(counters) == [name for name, _ in COUNTERS]
    assert counters["messages"] == 5_000
    for name in ("messages", "events", "type_A"):
        lo, hi = dev.read_register(OFF[name]), dev.read_register(OFF[name] + 4)
        assert (hi << 32 | lo) == dev.read_register64(OFF[name]) == counters[name]
    assert _driver.SoftwareDevice(["AAPL"]).read_register(OFF["control"]) == 0b001


def test_writes_are_refused_with_the_reason() -> None:
    dev = _driver.SoftwareDevice()
    with pytest.raises(_driver.RegisterRefusedError, match="register id is read-only"):
        dev.write_register(OFF["id"], 1)
    with pytest.raises(_driver.RegisterRefusedError, match=r"register messages \(high word\) is read-only"):
        dev.write_register(OFF["messages"] + 4, 1)
    with pytest.raises(_driver.RegisterRefusedError, match="cannot apply register session_0 at run time"):
        dev.write_register(OFF["session_0"], 0x4B434954)
    with pytest.raises(_driver.RegisterRefusedError, match="cannot apply register control"):
        dev.write_register(OFF["control"], 0b001)  # stop tracking all symbols
    with pytest.raises(_driver.RegisterRefusedError, match="no register at offset 0xffc"):
        dev.read_register(0xFFC)
    assert issubclass(_driver.RegisterRefusedError, _driver.DeviceError)


def test_clear_counters_and_reset() -> None:
    dev = _driver.SoftwareDevice()
    first = batches(3_000)
    for b in first:
        dev.submit(b)
    events = collect_all(dev)
    dev.write_register(OFF["control"], 0b111)  # clear counters: they restart from 0, the books stay
    assert dev.counters()["messages"] == 0 and dev.read_register(OFF["control"]) == 0b101
    dev.submit(first[0])  # all seen already: duplicates only
    assert dev.counters()["packets_duplicate"] == dev.counters()["packets"] > 0
    dev.reset()  # a new card: the same stream gives the same events again
    assert dev.pending() == 0 and dev.counters()["packets"] == 0
    for b in first:
        dev.submit(b)
    assert collect_all(dev).tobytes() == events.tobytes()


def test_identify() -> None:
    assert _driver.SoftwareDevice().identify() == {
        "backend": "software", "location": "in-process", "vendor_id": 0, "device_id": 0,
        "subsystem_vendor_id": 0, "subsystem_id": 0, "id": ID_MAGIC, "map_version": MAP_VERSION,
        "cap_orders": 0, "cap_levels": 0, "cap_symbols": 0}


def test_capacities() -> None:
    dev = _driver.SoftwareDevice(order_table=OrderTableConfig(bucket_bits=4, ways=2, stash=2), max_levels=4,
                                 max_symbols=8, level_events=True)
    ident = dev.identify()
    assert (ident["cap_orders"], ident["cap_levels"], ident["cap_symbols"]) == (2 * 16 * 2 + 2, 4, 8)
    assert [dev.read_register(OFF[n]) for n in ("cap_orders", "cap_levels", "cap_symbols")] == [66, 4, 8]
    assert dev.read_register(OFF["control"]) == 0b1101  # enabled, all symbols, level events
    with pytest.raises(ValueError, match="max_levels must be at least 1"):
        _driver.SoftwareDevice(max_levels=0)
    with pytest.raises(ValueError, match="level_events needs max_levels"):
        _driver.SoftwareDevice(level_events=True)


def test_configuration() -> None:
    s = itch.encode(itch.make("S", timestamp=1, event_code="O"))
    batch = mold.pack_dma([(mold.build("OTHER", 1, [s]), 5), (mold.build("MINE", 3, [s, s]), 6)])
    dev = _driver.SoftwareDevice(session=b"MINE      ", first_sequence=2)
    dev.submit(batch)
    assert collect_all(dev)["kind"].tolist() == [EventKind.GAP, EventKind.STATUS, EventKind.STATUS]
    assert dev.counters()["packets_wrong_session"] == 1
    with pytest.raises(ValueError, match="session: the 10 bytes"):
        _driver.SoftwareDevice(session=b"MINE")


def test_bad_arguments() -> None:
    dev = _driver.SoftwareDevice()
    with pytest.raises(ValueError, match="out must be a writable, contiguous 1-D array of EVENT_DTYPE"):
        dev.collect(np.empty(4, dtype=np.uint64))
    with pytest.raises(ValueError, match="contiguous 1-D buffer of bytes"):
        dev.submit(np.zeros(4, dtype=np.uint32))
    good = batches(200)[0]
    with pytest.raises(ValueError, match="DMA"):
        dev.submit(good[:-9])  # the last record cut: refused whole, nothing of it used
    assert dev.counters()["packets"] == 0
