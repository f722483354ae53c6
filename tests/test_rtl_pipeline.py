"""The whole pipeline RTL (Verilator + cocotb) against the reference model, event by event, byte for byte.

One small geometry for every test (one simulator build, cached under build/sim/): 64 book slots, 16 levels
a side, 8 symbol names, an order table of two banks of 256 four-way buckets and a 4-entry stash. Streams:
a generated day slice, every real capture, and streams built to collide in the hash and to pass each
capacity (host/feeds/adversarial.py). Longer replays: `tickgate sim FILE --stage pipeline`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tickgate.host.feeds import adversarial, open_feed, pack_messages
from tickgate.host.feeds.generator import Generator
from tickgate.host.feeds.stress import stress
from tickgate.protocol.config import BookGeometry, OrderTableConfig
from tickgate.protocol.events import EventKind
from tickgate.protocol.registers import ID_MAGIC, MAP_VERSION
from tickgate.sim.pipeline_run import RunConfig, pipeline_stimulus, run_pipeline

from .conftest import SHARED

GEOMETRY = BookGeometry(symbols=64, levels=16, names=8, order_table=OrderTableConfig(bucket_bits=8, ways=4, stash=4))
PCAPS = sorted((SHARED / "data" / "pcap").rglob("*.pcap"))


def _generated(messages: int, symbols: int, seed: int) -> list[bytes]:
    return list(pack_messages(Generator(messages, symbols, seed), end_of_session=True))


def _check(runs) -> None:
    for r in runs:
        assert r.mismatches == [], r.mismatches[:5]
        assert len(r.events) == len(r.stimulus.events)


def test_generated_stream_with_gaps_and_back_pressure() -> None:
    config = RunConfig(level_events=True)
    stim = pipeline_stimulus(_generated(12_000, 64, 5), GEOMETRY, config)
    (run,) = run_pipeline([stim], GEOMETRY, config, seed=3, idle=0.1, stall=0.2)
    _check([run])
    kinds = {int(k) for k in run.events["kind"]}
    assert {EventKind.BBO, EventKind.TRADE, EventKind.LEVEL} <= kinds
    assert run.counters["messages"] == 12_000


def test_realistic_mix_runs_at_line_rate_and_latency() -> None:
    """No back-pressure from the book on a realistic mix: every input beat is taken on consecutive cycles;
    the median latency from an add/execution/cancel/delete/replace's last byte to its BBO event is <= 16."""
    config = RunConfig(level_events=True)
    stim = pipeline_stimulus(_generated(6_000, 64, 8), GEOMETRY, config)
    (run,) = run_pipeline([stim], GEOMETRY, config)
    _check([run])
    assert run.in_cycles[-1] - run.in_cycles[0] + 1 == len(run.in_cycles)  # one beat a cycle, no stall
    s = run.summary()
    assert s["latency_bbo_cycles"]["median"] <= 16
    assert s["latency_cycles"]["max"] <= 40
    # The register block: identity, capacities, gauges and latency statistics read through AXI-Lite.
    r = run.registers
    assert (r["id"], r["map_version"]) == (ID_MAGIC, MAP_VERSION)
    assert (r["cap_orders"], r["cap_levels"], r["cap_symbols"]) == (GEOMETRY.order_table.capacity, 16, 64)
    assert r["symbols_live"] == len({int(loc) for loc in stim.events["locate"] if loc}) <= 64
    assert r["messages"] == 6_000 and r["events"] == len(stim.events)
    assert 0 < r["latency_min"] <= r["latency_max"] and r["latency_count"] > 0
    assert r["latency_min"] == s["latency_cycles"]["min"]
    assert r["messages_after_clear"] == r["latency_count_after_clear"] == 0  # control bit 1 cleared them


def test_deletes_replaces_executions_run_at_line_rate() -> None:
    """The throughput worst cases (host/feeds/stress.py): adds, then a delete, replace or execution of each,
    back to back. Every input beat is taken on consecutive cycles (8.00 B/cycle, no back-pressure) and no
    top-of-book event comes later than 24 cycles after its message's last byte (tests/bench_book_mixes.py
    measures longer streams)."""
    config = RunConfig(level_events=True)
    stims = [pipeline_stimulus(list(pack_messages(stress(kind, 300, 64), end_of_session=True)), GEOMETRY, config)
             for kind in "DUE"]
    runs = run_pipeline(stims, GEOMETRY, config)
    _check(runs)
    for run in runs:
        assert run.in_cycles[-1] - run.in_cycles[0] + 1 == len(run.in_cycles)
        assert run.summary()["latency_bbo_cycles"]["max"] <= 24


def test_real_captures_track_all() -> None:
    assert len(PCAPS) >= 40
    config = RunConfig(level_events=True)
    stims = [pipeline_stimulus([p.payload for p in open_feed(path)], GEOMETRY, config) for path in PCAPS]
    runs = run_pipeline(stims, GEOMETRY, config, seed=2, idle=0.3, stall=0.3)
    _check(runs)
    assert sum(len(r.events) for r in runs) == sum(len(s.events) for s in stims) > 0


def test_named_symbols_only() -> None:
    """Symbols tracked by name (the stock directory gives their locates): the rest is counted untracked."""
    packets = _generated(4_000, 20, 9)
    config = RunConfig(symbols=("CDG", "IZ", "MANZ", "NOSUCH"), level_events=False)
    stim = pipeline_stimulus(packets, GEOMETRY, config)
    assert stim.counters["untracked_symbol"] > 0
    (run,) = run_pipeline([stim], GEOMETRY, config)
    _check([run])


@pytest.mark.parametrize("name", ["collisions", "capacities"])
def test_adversarial_streams(name: str) -> None:
    """Hash collisions filling both buckets and the stash; levels, symbols and faults past capacity."""
    t = GEOMETRY.order_table
    streams = {
        "collisions": [adversarial.hash_collisions(t.bucket_bits, t.ways, t.stash, rounds=3, seed=11)],
        "capacities": [adversarial.level_overflow(GEOMETRY.levels, symbols=2, messages=1_500, seed=12),
                       adversarial.symbol_overflow(GEOMETRY.symbols, extra=6, seed=13),
                       adversarial.duplicates_and_faults(seed=14)],
    }[name]
    config = RunConfig(level_events=True)
    stims = [pipeline_stimulus(packets, GEOMETRY, config) for packets in streams]
    runs = run_pipeline(stims, GEOMETRY, config, seed=4, idle=0.2, stall=0.2)
    _check(runs)
    total = {k: sum(r.stimulus.counters.get(k, 0) for r in runs) for k in (
        "order_table_full", "order_table_stashed", "levels_full", "level_missing", "symbols_full",
        "duplicate_ref", "degraded_symbols")}
    if name == "collisions":
        assert total["order_table_full"] > 0 and total["order_table_stashed"] > 0
    else:
        assert total["levels_full"] > 0 and total["level_missing"] > 0 and total["symbols_full"] > 0
        assert total["duplicate_ref"] > 0


def test_shared_data_is_there() -> None:
    assert Path(SHARED, "data", "pcap").is_dir()
