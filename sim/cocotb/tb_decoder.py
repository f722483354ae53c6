"""cocotb testbench of the decoder stage (`ItchDecoder`, or `NetworkDecoder` with the Ethernet front end).

Drives the packets of a stimulus file with random gaps in valid, takes records with random back-pressure,
and writes everything it saw to a JSON file; the scoreboard (`tickgate.sim.decoder_run`) compares that with
the reference model. Options (plusargs or environment): TB_STIMULUS (packets: 4-byte little-endian length,
then the bytes; a length of 0xFFFFFFFF starts a new segment, run after a reset), TB_OUTPUT (the JSON
written), TB_TOP (`decoder` or `network`), TB_CONFIG (JSON of the configuration ports), TB_SEED, TB_IDLE,
TB_STALL, TB_QUIET (cycles without output that end the run).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import cocotb

from tickgate.hdl.decoder import DECODER_COUNTERS
from tickgate.hdl.layouts import DecodedRecord, PacketBeat
from tickgate.hdl.moldudp64 import SessionConfig
from tickgate.hdl.network_decoder import NETWORK_DECODER_COUNTERS, NetworkConfig
from tickgate.protocol.decoded import DECODED_FIELDS
from tickgate.sim.cocotb import tb_option
from tickgate.sim.cocotb.clocking import Clocking
from tickgate.sim.cocotb.payload import PayloadCodec
from tickgate.sim.cocotb.streams import StreamDriver, StreamMonitor, packet_beats

COUNTERS = {"decoder": DECODER_COUNTERS, "network": NETWORK_DECODER_COUNTERS}
CONFIG_PORTS = {"cfg": SessionConfig, "net": NetworkConfig}


SEGMENT = 0xFFFFFFFF


def read_segments(path: Path) -> list[list[bytes]]:
    data, segments, pos = path.read_bytes(), [[]], 0
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "little")
        pos += 4
        if n == SEGMENT:
            segments.append([])
            continue
        segments[-1].append(data[pos:pos + n])
        pos += n
    return segments


@cocotb.test()
async def decode_stream(dut) -> None:
    """Every packet in, every record out, cycles recorded, segment by segment; the host scores it."""
    top = tb_option("TB_TOP", "decoder")
    segments = read_segments(Path(tb_option("TB_STIMULUS")))
    seed = int(tb_option("TB_SEED", "1"))
    idle, stall = float(tb_option("TB_IDLE", "0")), float(tb_option("TB_STALL", "0"))
    quiet = int(tb_option("TB_QUIET", "200"))
    config = json.loads(tb_option("TB_CONFIG", "{}"))
    for port, layout in CONFIG_PORTS.items():
        if hasattr(dut, port):
            getattr(dut, port).value = PayloadCodec(layout).pack({**_zeros(layout), **config.get(port, {})})

    if hasattr(dut, "clear_counters"):
        dut.clear_counters.value = 0
    clock = Clocking(dut)
    await clock.start()
    beats = [[beat for p in packets for beat in packet_beats(p)] for packets in segments]
    total = sum(map(len, beats))
    limit = int(4 * total / (1 - idle) / (1 - stall)) + len(segments) * (20 * quiet + 100) + 1000
    clock.watchdog(limit, f"{len(segments)} segments of {total} beats")
    source = StreamDriver(dut, "i", PacketBeat, clock, random.Random(seed), idle_prob=idle)
    sink = StreamMonitor(dut, "o", DecodedRecord, clock, random.Random(seed + 1), stall_prob=stall)
    counters = PayloadCodec(_counter_layout(COUNTERS[top]))
    names = [f.name for f in DECODED_FIELDS]

    wall = time.perf_counter()
    results = []
    for n, segment in enumerate(beats):
        if n:  # a fresh card for each segment
            await clock.rising  # out of the read-only phase of the last sample
            dut.rst.value = 1
            await clock.cycles(2)
            dut.rst.value = 0
        sent, received, start = len(source.sent), len(sink.received), clock.cycle()
        source.send(segment)
        await source.wait_idle()
        seen, last_change = len(sink.received), clock.cycle()
        while clock.cycle() - last_change < quiet:
            await clock.cycles(16)
            if len(sink.received) != seen:
                seen, last_change = len(sink.received), clock.cycle()
        await clock.sample()
        results.append({
            "beats": len(segment),
            "in_cycles": [t.cycle for t in source.sent[sent:]],
            "records": [[t.cycle, *(int(t.payload[k]) for k in names)] for t in sink.received[received:]],
            "counters": {k: int(v) for k, v in counters.unpack(int(dut.counters.value)).items()},
            "cycles": clock.cycle() - start,
        })
    wall = time.perf_counter() - wall
    Path(tb_option("TB_OUTPUT")).write_text(json.dumps({"top": top, "segments": results, "wall_seconds": wall}))


def _zeros(layout) -> dict[str, int]:
    return dict.fromkeys(layout.members, 0)


def _counter_layout(names: tuple[str, ...]):
    from amaranth.lib import data

    return data.StructLayout(dict.fromkeys(names, 64))
