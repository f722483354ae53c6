"""cocotb testbench of the whole pipeline (`hdl.pipeline.Pipeline`): packets in, 64-byte events out.

Per segment (a reset before each but the first): writes the configuration registers through AXI-Lite,
drives the input with random gaps in valid, takes events with random back-pressure, then writes what it
saw to a JSON file that `tickgate.sim.pipeline_run` scores against the reference model. Options
(plusargs or environment): TB_STIMULUS (as tb_decoder's: 4-byte little-endian lengths, 0xFFFFFFFF starts
a segment), TB_INPUT (`packets`, `network` or `dma`), TB_REGISTERS (JSON list of [offset, value] written
in order), TB_SEED, TB_IDLE, TB_STALL, TB_QUIET, TB_OUTPUT.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import cocotb
from amaranth.hdl import unsigned
from amaranth.lib import data

from tickgate.hdl.event_record import EVENT_BITS
from tickgate.hdl.layouts import PacketBeat
from tickgate.hdl.pipeline import pipeline_counters
from tickgate.protocol.moldudp64 import pack_dma
from tickgate.protocol.registers import REGISTER_MAP
from tickgate.sim.cocotb import tb_option
from tickgate.sim.cocotb.axi_lite import AxiLiteManager
from tickgate.sim.cocotb.clocking import Clocking
from tickgate.sim.cocotb.payload import PayloadCodec
from tickgate.sim.cocotb.streams import StreamDriver, StreamMonitor, packet_beats
from tickgate.sim.cocotb.tb_decoder import read_segments

#: Registers read back through AXI-Lite after each segment (the scoreboard checks them).
READ_BACK = ("id", "map_version", "cap_orders", "cap_levels", "cap_symbols", "orders_live", "symbols_live",
             "latency_min", "latency_max", "latency_count", "latency_sum", "messages", "events", "events_bbo")


def _input_beats(input: str, packets: list[bytes]) -> tuple[list, list[int]]:
    """What the input port takes for these packets, and the index of each packet's first beat."""
    beats, starts = [], []
    if input == "dma":
        for p in packets:
            starts.append(len(beats))
            framed = pack_dma([(p, 0)])
            beats += [int.from_bytes(framed[i:i + 8], "little") for i in range(0, len(framed), 8)]
        return beats, starts
    for p in packets:
        starts.append(len(beats))
        beats += packet_beats(p)
    return beats, starts


@cocotb.test()
async def pipeline_stream(dut) -> None:
    """Every packet in, every event out, cycles recorded, segment by segment; the host scores it."""
    input = tb_option("TB_INPUT", "packets")
    segments = read_segments(Path(tb_option("TB_STIMULUS")))
    registers = json.loads(tb_option("TB_REGISTERS", "[]"))
    seed = int(tb_option("TB_SEED", "1"))
    idle, stall = float(tb_option("TB_IDLE", "0")), float(tb_option("TB_STALL", "0"))
    quiet = int(tb_option("TB_QUIET", "300"))
    dut.dma_status.value = 0

    clock = Clocking(dut)
    csr = AxiLiteManager(dut, "csr", clock)
    await clock.start()
    port, layout = ("dma_in", unsigned(64)) if input == "dma" else ("i", PacketBeat)
    staged = [_input_beats(input, packets) for packets in segments]
    total = sum(len(b) for b, _ in staged)
    limit = int(8 * total / (1 - idle) / (1 - stall)) + len(segments) * (20 * quiet + 400 + 8 * len(registers)) + 2000
    clock.watchdog(limit, f"{len(segments)} segments of {total} beats")
    source = StreamDriver(dut, port, layout, clock, random.Random(seed), idle_prob=idle)
    sink = StreamMonitor(dut, "events", unsigned(EVENT_BITS), clock, random.Random(seed + 1), stall_prob=stall)
    names = pipeline_counters(input)
    counters = PayloadCodec(data.StructLayout(dict.fromkeys(names, 64)))

    wall = time.perf_counter()
    results = []
    for n, (beats, starts) in enumerate(staged):
        if n:  # a fresh card for each segment
            await clock.rising
            dut.rst.value = 1
            await clock.cycles(2)
            dut.rst.value = 0
        for offset, value in registers:
            resp = await csr.write(offset, value)
            assert resp == 0, f"register write {offset:#x} answered {resp}"
        sent, received, start = len(source.sent), len(sink.received), clock.cycle()
        source.send(beats)
        await source.wait_idle()
        seen, last_change = len(sink.received), clock.cycle()
        while clock.cycle() - last_change < quiet:
            await clock.cycles(16)
            if len(sink.received) != seen:
                seen, last_change = len(sink.received), clock.cycle()
        await clock.sample()
        counter_values = {k: int(v) for k, v in counters.unpack(int(dut.counters.value)).items()}
        registers_read = {}
        for reg in READ_BACK:
            r = REGISTER_MAP[reg]
            value = await csr.read(r.offset)
            if r.width == 64:
                value |= await csr.read(r.offset + 4) << 32
            registers_read[reg] = value
        control = REGISTER_MAP["control"].offset
        await csr.write(control, dict(registers).get(control, 0) | 2)  # bit 1: clear the counters
        registers_read["messages_after_clear"] = await csr.read(REGISTER_MAP["messages"].offset)
        registers_read["latency_count_after_clear"] = await csr.read(REGISTER_MAP["latency_count"].offset)
        results.append({
            "registers": registers_read,
            "beats": len(beats),
            "packet_starts": starts,
            "in_cycles": [t.cycle for t in source.sent[sent:]],
            "events": [[t.cycle, f"{t.payload:0128x}"] for t in sink.received[received:]],
            "counters": counter_values,
            "cycles": clock.cycle() - start,
        })
    wall = time.perf_counter() - wall
    Path(tb_option("TB_OUTPUT")).write_text(json.dumps({"input": input, "segments": results, "wall_seconds": wall}))
