"""cocotb tests of a PacketBeat pass-through (the DUT of sim/test_flow.py): the stream helpers end to end.

Testbench options (plusargs or environment, see `tb_option`): TB_SEED, TB_PACKETS, TB_IDLE, TB_STALL,
TB_RESULT (path of a JSON file to write the measurements to), TB_LATENCY (expected cycles in to out),
TB_HANG (run the `hang` test, which the watchdog must fail).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import cocotb

from tickgate.hdl.layouts import PacketBeat
from tickgate.sim.cocotb import tb_option
from tickgate.sim.cocotb.clocking import Clocking
from tickgate.sim.cocotb.streams import StreamDriver, StreamMonitor, join_beats, latencies, packet_beats, rate


def _options() -> dict[str, float]:
    return {
        "seed": int(tb_option("TB_SEED", "1")),
        "packets": int(tb_option("TB_PACKETS", "50")),
        "idle": float(tb_option("TB_IDLE", "0.3")),
        "stall": float(tb_option("TB_STALL", "0.3")),
        "latency": int(tb_option("TB_LATENCY", "1")),
    }


async def _run(dut, seed: int, packets: int, idle: float, stall: float, latency: int) -> dict:
    clock = Clocking(dut)
    await clock.start()
    rng = random.Random(seed)
    sent_packets = [rng.randbytes(rng.randint(1, 120)) for _ in range(packets)]
    beats = [beat for p in sent_packets for beat in packet_beats(p, filler=rng)]
    clock.watchdog(20 * len(beats) + 100, f"{len(beats)} beats")
    source = StreamDriver(dut, "i", PacketBeat, clock, random.Random(seed + 1), idle_prob=idle)
    sink = StreamMonitor(dut, "o", PacketBeat, clock, random.Random(seed + 2), stall_prob=stall)
    start_wall, start_cycle = time.perf_counter(), clock.cycle()
    source.send(beats)
    received = await sink.wait_for(len(beats))
    wall, cycles = time.perf_counter() - start_wall, clock.cycle() - start_cycle + 1

    assert [t.payload for t in received] == beats, "beats changed, lost or reordered"
    assert join_beats(t.payload for t in received) == sent_packets
    delays = latencies(source.sent, received)
    assert min(delays) >= latency, f"a beat came out {min(delays)} cycles after it went in"
    return {
        "options": {"seed": seed, "packets": packets, "idle": idle, "stall": stall},
        "beats": len(beats), "cycles": cycles, "beats_per_cycle": len(beats) / cycles,
        "output_rate": rate(received), "latency_min": min(delays), "latency_max": max(delays),
        "wall_seconds": wall, "cycles_per_second": cycles / wall,
    }


def _record(name: str, stats: dict) -> None:
    path = tb_option("TB_RESULT")
    if path:
        results = json.loads(Path(path).read_text()) if Path(path).is_file() else {}
        results[name] = stats
        Path(path).write_text(json.dumps(results, indent=1))


@cocotb.test()
async def random_packets(dut) -> None:
    """Random packets with random gaps and back-pressure come out beat for beat, in order."""
    _record("random_packets", await _run(dut, **_options()))


@cocotb.test()
async def full_rate(dut) -> None:
    """Without gaps or back-pressure the pass-through takes and gives one beat every cycle."""
    options = _options() | {"idle": 0.0, "stall": 0.0}
    stats = await _run(dut, **options)
    assert stats["latency_min"] == stats["latency_max"] == options["latency"], stats
    assert stats["output_rate"] == 1.0, stats
    assert stats["cycles"] <= stats["beats"] + options["latency"] + 1, stats
    _record("full_rate", stats)


@cocotb.test(skip=tb_option("TB_HANG") is None)
async def hang(dut) -> None:
    """Waits for a beat that never comes: the watchdog must fail this test (runs only with TB_HANG set)."""
    clock = Clocking(dut)
    await clock.start()
    clock.watchdog(200, "waiting for a beat nobody sends")
    sink = StreamMonitor(dut, "o", PacketBeat, clock)
    await sink.wait_for(1)
