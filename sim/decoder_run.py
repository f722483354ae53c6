"""Run the decoder RTL under Verilator/cocotb on a feed and score it against the reference model.

`stimulus(...)` builds what enters the DUT (MoldUDP64 packets, or Ethernet frames for the network top)
with the reference's records and counters and, for each message record, the input beat that holds the
message's last byte. `run(...)` simulates it (`sim/cocotb/tb_decoder.py`) and returns a `DecoderRun`:
mismatches record by record and counter by counter, cycles, bytes per cycle, latency in cycles.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tickgate.hdl.layouts import BEAT_BYTES
from tickgate.model.decoder import ReferenceDecoder
from tickgate.model.frontend import ReferenceFrontEnd
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.decoded import DECODED_FIELDS

FIELD_NAMES = tuple(f.name for f in DECODED_FIELDS)
TB_MODULE = "tickgate.sim.cocotb.tb_decoder"


@dataclass
class Stimulus:
    """What enters the DUT and what the reference says must come out."""

    top: str  # "decoder" (MoldUDP64 packets in) or "network" (Ethernet frames in)
    packets: list[bytes]
    expected: list[dict[str, int]] = field(default_factory=list)
    last_beat: list[int | None] = field(default_factory=list)  # per expected record; None for notices
    counters: dict[str, int] = field(default_factory=dict)
    config: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return self.counters.get("messages", 0)


def _message_ends(packet: bytes) -> dict[int, int]:
    """Sequence number -> offset just past the message, for the blocks of a packet that frame."""
    if len(packet) < mold.HEADER_LEN:
        return {}
    _session, seq, count = mold.HEADER_STRUCT.unpack_from(packet)
    ends, pos = {}, mold.HEADER_LEN
    for i in range(count if count != mold.END_OF_SESSION else 0):
        if pos + 2 > len(packet):
            break
        pos += 2 + int.from_bytes(packet[pos:pos + 2], "big")
        if pos > len(packet):
            break
        ends[seq + i] = pos
    return ends


class _Expectation:
    """Feeds the reference packet by packet, noting where each record's message ends in the input."""

    def __init__(self, stim: Stimulus, decoder: ReferenceDecoder) -> None:
        self.stim, self.decoder, self.beats = stim, decoder, 0

    def packet(self, dut_input: bytes, mold_packet: bytes | None, start: int = 0) -> None:
        """`dut_input` enters the DUT; `mold_packet` (at byte `start` of it) reaches the decoder stage."""
        self.stim.packets.append(dut_input)
        if mold_packet is not None:
            before = len(self.decoder.records)
            self.decoder.feed(mold_packet)
            ends = _message_ends(mold_packet)
            for rec in self.decoder.records[before:]:
                self.stim.expected.append(rec)
                end = ends.get(rec["seq"]) if rec["notice"] == 0 else None
                self.stim.last_beat.append(None if end is None else self.beats + (start + end - 1) // BEAT_BYTES)
        self.beats += max(1, -(-len(dut_input) // BEAT_BYTES))


def stimulus_from_packets(packets: Iterable[bytes], *, session: bytes | None = None) -> Stimulus:
    """MoldUDP64 packets straight into `ItchDecoder`."""
    stim = Stimulus("decoder", [])
    decoder = ReferenceDecoder(session=session)
    exp = _Expectation(stim, decoder)
    for p in packets:
        exp.packet(p, p)
    stim.counters = dict(decoder.counters)
    if session is not None:
        stim.config["cfg"] = {"session": int.from_bytes(session, "little"), "session_en": 1}
    return stim


def stimulus_from_frames(frames: Iterable[bytes], *, dst_ip: str | None = None, dst_port: int | None = None,
                         ignore_ip_checksum: bool = False) -> Stimulus:
    """Ethernet frames into `NetworkDecoder` (front end, then decoder)."""
    stim = Stimulus("network", [])
    front_end = ReferenceFrontEnd(dst_ip, dst_port, check_ip_checksum=not ignore_ip_checksum)
    decoder = ReferenceDecoder()
    exp = _Expectation(stim, decoder)
    for frame in frames:
        _reason, start, _length = front_end.classify(frame)
        exp.packet(frame, front_end.frame(frame), start)
    stim.counters = {**decoder.counters, **front_end.counters}
    net = {"ignore_ip_checksum": int(ignore_ip_checksum)}
    if dst_ip is not None:
        net |= {"dst_ip": front_end.dst_ip, "dst_ip_check": 1}
    if dst_port is not None:
        net |= {"dst_port": dst_port, "dst_port_check": 1}
    stim.config["net"] = net
    return stim


def stimulus_from_file(path: str | os.PathLike[str], *, network: bool | None = None, **net) -> Stimulus:
    """A BinaryFILE (packed into MoldUDP64 packets) or a pcap (its Ethernet frames, through the front end;
    `network=False` takes the captured UDP payloads straight into the decoder instead)."""
    from tickgate.host.feeds import BinaryFileFeed, open_feed
    from tickgate.protocol.pcap import PcapReader

    feed = open_feed(path)
    if isinstance(feed, BinaryFileFeed):
        if network:
            raise ValueError("a BinaryFILE holds no Ethernet frames: the network top needs a pcap")
        return stimulus_from_packets(p.payload for p in feed)
    if network is False:
        return stimulus_from_packets(p.payload for p in feed)
    return stimulus_from_frames((frame for _ts, frame in PcapReader(path).ethernet_frames()), **net)


@dataclass
class DecoderRun:
    """What the RTL did, scored against the reference."""

    stimulus: Stimulus
    records: list[list[int]]  # [cycle, *fields]
    in_cycles: list[int]
    counters: dict[str, int]
    cycles: int
    wall_seconds: float
    mismatches: list[str] = field(default_factory=list)

    @property
    def latencies(self) -> list[int]:
        """Cycles from the beat holding a message's last byte to its record, for every matching record."""
        out = []
        for rec, beat in zip(self.records, self.stimulus.last_beat, strict=False):
            if beat is not None and beat < len(self.in_cycles):
                out.append(rec[0] - self.in_cycles[beat])
        return out

    @property
    def bytes_per_cycle(self) -> float:
        if not self.in_cycles:
            return 0.0
        total = sum(len(p) for p in self.stimulus.packets)
        return total / (self.in_cycles[-1] - self.in_cycles[0] + 1)

    def summary(self) -> dict[str, object]:
        lat = self.latencies
        return {
            "stage": "decoder",
            "top": self.stimulus.top,
            "messages": self.stimulus.messages,
            "records": len(self.records),
            "expected_records": len(self.stimulus.expected),
            "mismatches": len(self.mismatches),
            "cycles": self.cycles,
            "bytes_per_cycle": round(self.bytes_per_cycle, 4),
            "latency_cycles": ({"min": min(lat), "median": statistics.median(lat), "max": max(lat)} if lat else
                               {"min": None, "median": None, "max": None}),
            "counters": {k: v for k, v in self.counters.items() if v},
            "sim_cycles_per_second": round(self.cycles / self.wall_seconds) if self.wall_seconds else None,
        }


def score(stim: Stimulus, out: dict) -> DecoderRun:
    """Compare the testbench's output with the reference: records in order, then every counter."""
    run = DecoderRun(stim, out["records"], out["in_cycles"], out["counters"], out["cycles"], out["wall_seconds"])
    got, want = out["records"], stim.expected
    for i in range(max(len(got), len(want))):
        if i >= len(got):
            run.mismatches.append(f"record {i}: missing, expected {want[i]}")
        elif i >= len(want):
            run.mismatches.append(f"record {i}: unexpected {dict(zip(FIELD_NAMES, got[i][1:], strict=True))}")
        else:
            values = dict(zip(FIELD_NAMES, got[i][1:], strict=True))
            diff = {k: (values[k], want[i][k]) for k in FIELD_NAMES if values[k] != want[i][k]}
            if diff:
                run.mismatches.append(f"record {i} (seq {want[i]['seq']}): got/expected {diff}")
    for name in stage_counters(stim.top):
        got, want_n = out["counters"].get(name), stim.counters[name]
        if got != want_n:
            run.mismatches.append(f"counter {name}: got {got}, expected {want_n}")
    return run


def stage_counters(top: str) -> tuple[str, ...]:
    """The counters the RTL top keeps, each compared with the reference."""
    from tickgate.hdl.decoder import DECODER_COUNTERS
    from tickgate.hdl.network_decoder import NETWORK_DECODER_COUNTERS

    return DECODER_COUNTERS if top == "decoder" else NETWORK_DECODER_COUNTERS


SEGMENT = (0xFFFFFFFF).to_bytes(4, "little")


def run_segments(stims: list[Stimulus], *, seed: int = 1, idle: float = 0.0, stall: float = 0.0,
                 waves: str | os.PathLike[str] | None = None,
                 workdir: str | os.PathLike[str] | None = None) -> list[DecoderRun]:
    """Simulate the decoder RTL on each stimulus in turn, with a reset between them, in one run; score each."""
    from tickgate.hdl.decoder import ItchDecoder
    from tickgate.hdl.network_decoder import NetworkDecoder
    from tickgate.sim.build import cocotb_build, cocotb_test, generate_verilog

    tops = {s.top for s in stims}
    configs = {json.dumps(s.config, sort_keys=True) for s in stims}
    if len(tops) != 1 or len(configs) != 1:
        raise ValueError("the segments of one run share their top and configuration")
    top = tops.pop()
    factory, name = (ItchDecoder, "itch_decoder") if top == "decoder" else (NetworkDecoder, "network_decoder")
    verilog = generate_verilog(factory, name, {})
    kind = None if waves is None else ("vcd" if str(waves).endswith(".vcd") else "fst")
    build = cocotb_build(verilog, name, waves=kind)
    with tempfile.TemporaryDirectory(prefix="tickgate-decoder-") as tmp:
        tmp_path = Path(tmp)
        stimulus_path, output_path = tmp_path / "stimulus.bin", tmp_path / "output.json"
        stimulus_path.write_bytes(SEGMENT.join(b"".join(len(p).to_bytes(4, "little") + p for p in s.packets)
                                               for s in stims))
        env = {"TB_STIMULUS": str(stimulus_path), "TB_OUTPUT": str(output_path), "TB_TOP": top,
               "TB_CONFIG": configs.pop(), "TB_SEED": str(seed), "TB_IDLE": str(idle), "TB_STALL": str(stall)}
        cocotb_test(build, TB_MODULE, env=env, waves=waves, workdir=workdir or tmp_path / "run")
        out = json.loads(output_path.read_text())
    wall = out["wall_seconds"] / max(1, len(stims))
    return [score(s, seg | {"wall_seconds": wall}) for s, seg in zip(stims, out["segments"], strict=True)]


def run(stim: Stimulus, **options) -> DecoderRun:
    """Simulate the decoder RTL on `stim` and score it (see `run_segments` for the options)."""
    return run_segments([stim], **options)[0]
