"""Run the whole pipeline RTL under Verilator/cocotb on a feed and score it against the reference model.

`pipeline_stimulus(...)` builds what enters the DUT (MoldUDP64 packets, DMA-framed packets, or Ethernet
frames) and the reference card's events and counters for the same configuration; `run_pipeline(...)`
simulates it (`sim/cocotb/tb_pipeline.py`) and returns a `PipelineRun`: mismatches event by event (every
byte but `ts_local`) and counter by counter, cycles, bytes per cycle and latency in cycles from the beat
holding a message's last byte to its first event (and to its top-of-book event).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tickgate.hdl.layouts import BEAT_BYTES
from tickgate.hdl.pipeline import pipeline_counters
from tickgate.model.card import ReferenceCard
from tickgate.model.frontend import ReferenceFrontEnd
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import MAX_LEVEL_EVENTS_LEVELS, BookGeometry, CardConfig, register_writes
from tickgate.protocol.events import COMPARED_BYTES, EVENT_DTYPE, EVENT_SIZE, EventKind
from tickgate.protocol.registers import REGISTER_MAP
from tickgate.protocol.rules import Rule

from .decoder_run import SEGMENT, _message_ends

TB_MODULE = "tickgate.sim.cocotb.tb_pipeline"
_BOOK_TYPES = frozenset(map(ord, "AFECXDU"))


@dataclass(frozen=True)
class RunConfig:
    """The run-time configuration written to the registers (and given to the model), and `max_rules`, the
    pipeline's rule table (0: no rule engine)."""

    symbols: tuple[str, ...] | None = None  # names to track; None: track all
    level_events: bool = True
    session: bytes | None = None
    ignore_ip_checksum: bool = False
    max_rules: int = 0
    rules: tuple[Rule | None, ...] = ()  # armed before the feed (at most max_rules)

    def registers(self) -> list[tuple[int, int]]:
        """(offset, value) writes that set this configuration (`model.config.register_writes`)."""
        config = CardConfig(symbols=None if self.symbols is None else frozenset(self.symbols), session=self.session,
                            max_levels=MAX_LEVEL_EVENTS_LEVELS if self.level_events else None,  # not a register
                            level_events=self.level_events, max_rules=max(1, self.max_rules), rules=self.rules)
        writes = register_writes(config)
        if self.ignore_ip_checksum:
            writes.insert(0, ("ignore_ip_checksum", 1))
        return [(REGISTER_MAP[name].offset, value) for name, value in writes]

    def card_config(self, geometry: BookGeometry) -> CardConfig:
        extra = {"level_events": self.level_events} if "level_events" in CardConfig.__dataclass_fields__ else {}
        return CardConfig(symbols=None if self.symbols is None else frozenset(self.symbols),
                          order_table=geometry.order_table, max_levels=geometry.levels, max_symbols=geometry.symbols,
                          session=self.session, max_rules=max(1, self.max_rules), rules=self.rules, **extra)


@dataclass
class PipelineStimulus:
    """What enters the DUT, what the reference says comes out, and where each message ends in the input."""

    input: str
    packets: list[bytes] = field(default_factory=list)
    events: np.ndarray = field(default_factory=lambda: np.zeros(0, EVENT_DTYPE))
    counters: dict[str, int] = field(default_factory=dict)
    message_ends: dict[int, tuple[int, int]] = field(default_factory=dict)  # seq -> (packet, byte offset of end)

    @property
    def messages(self) -> int:
        return self.counters.get("messages", 0)


def pipeline_stimulus(packets: Iterable[bytes], geometry: BookGeometry, config: RunConfig, *,
                      input: str = "packets") -> PipelineStimulus:
    """MoldUDP64 packets ("packets", or DMA-framed: "dma") or Ethernet frames ("network") into the pipeline."""
    stim = PipelineStimulus(input)
    card = ReferenceCard(config.card_config(geometry))
    front_end = ReferenceFrontEnd(check_ip_checksum=not config.ignore_ip_checksum) if input == "network" else None
    chunks = []
    for n, p in enumerate(packets):
        stim.packets.append(p)
        start, payload = 0, p
        if front_end is not None:
            _reason, start, _length = front_end.classify(p)
            payload = front_end.frame(p)
            if payload is None:
                continue
        for seq, end in _message_ends(payload).items():
            stim.message_ends.setdefault(seq, (n, start + end))
        card.feed(payload)
        chunks.append(card.take_events())
    stim.events = np.concatenate(chunks) if chunks else np.zeros(0, EVENT_DTYPE)
    stim.counters = {**card.counters, **(front_end.counters if front_end else {})}
    return stim


def _last_beat(stim: PipelineStimulus, starts: Sequence[int], seq: int) -> int | None:
    where = stim.message_ends.get(seq)
    if where is None:
        return None
    packet, end = where
    header_words = mold.DMA_HEADER_LEN // BEAT_BYTES if stim.input == "dma" else 0
    return starts[packet] + header_words + (end - 1) // BEAT_BYTES


@dataclass
class PipelineRun:
    """What the RTL did, scored against the reference."""

    stimulus: PipelineStimulus
    events: np.ndarray
    out_cycles: list[int]
    in_cycles: list[int]
    packet_starts: list[int]
    counters: dict[str, int]
    cycles: int
    wall_seconds: float
    registers: dict[str, int] = field(default_factory=dict)  # read back through AXI-Lite after the run
    mismatches: list[str] = field(default_factory=list)

    def latencies(self, bbo_only: bool = False, fire: bool = False) -> list[int]:
        """Cycles from the beat holding a message's last byte to its first event (or its BBO event, or its
        first FIRE event)."""
        out, seen = [], set()
        for ev, cycle in zip(self.events, self.out_cycles, strict=True):
            seq = int(ev["seq"])
            if seq in seen or (bbo_only and (ev["kind"] != EventKind.BBO or ev["msg_type"] not in _BOOK_TYPES)):
                continue
            if fire and ev["kind"] != EventKind.FIRE:
                continue
            if not bbo_only and int(ev["kind"]) in (EventKind.GAP, EventKind.SESSION):
                continue
            beat = _last_beat(self.stimulus, self.packet_starts, seq)
            if beat is not None and beat < len(self.in_cycles):
                seen.add(seq)
                out.append(cycle - self.in_cycles[beat])
        return out

    @property
    def bytes_per_cycle(self) -> float:
        if len(self.in_cycles) < 2:
            return 0.0
        return len(self.in_cycles) * BEAT_BYTES / (self.in_cycles[-1] - self.in_cycles[0] + 1)

    def summary(self) -> dict[str, object]:
        def stats(values: list[int]) -> dict[str, object]:
            if not values:
                return {"min": None, "median": None, "max": None}
            return {"min": min(values), "median": statistics.median(values), "max": max(values)}

        return {
            "stage": "pipeline",
            "top": self.stimulus.input,
            "messages": self.stimulus.messages,
            "events": len(self.events),
            "expected_events": len(self.stimulus.events),
            "mismatches": len(self.mismatches),
            "cycles": self.cycles,
            "bytes_per_cycle": round(self.bytes_per_cycle, 4),
            "latency_cycles": stats(self.latencies()),
            "latency_bbo_cycles": stats(self.latencies(bbo_only=True)),
            "fired": int((self.events["kind"] == EventKind.FIRE).sum()),
            "latency_fire_cycles": stats(self.latencies(fire=True)),
            "counters": {k: v for k, v in self.counters.items() if v},
            "sim_cycles_per_second": round(self.cycles / self.wall_seconds) if self.wall_seconds else None,
        }


def _events(hexes: list[str]) -> np.ndarray:
    raw = b"".join(int(h, 16).to_bytes(EVENT_SIZE, "little") for h in hexes)
    return np.frombuffer(raw, dtype=EVENT_DTYPE).copy()


def score(stim: PipelineStimulus, seg: dict, wall: float) -> PipelineRun:
    """Compare the testbench's output with the reference: events in order, byte for byte, then counters."""
    got = _events([h for _c, h in seg["events"]])
    run = PipelineRun(stim, got, [c for c, _h in seg["events"]], seg["in_cycles"], seg["packet_starts"],
                      seg["counters"], seg["cycles"], wall, seg.get("registers", {}))
    want = stim.events
    g = got.view(np.uint8).reshape(-1, EVENT_SIZE)[:, COMPARED_BYTES]
    w = want.view(np.uint8).reshape(-1, EVENT_SIZE)[:, COMPARED_BYTES]
    n = min(len(g), len(w))
    bad = np.nonzero((g[:n] != w[:n]).any(axis=1))[0]
    for i in bad[:20]:
        run.mismatches.append(f"event {i}: got {bytes(got[i:i + 1].view(np.uint8)).hex()}, "
                              f"expected {bytes(want[i:i + 1].view(np.uint8)).hex()}")
    if len(bad) > 20:
        run.mismatches.append(f"... {len(bad) - 20} more differing events")
    if len(g) != len(w):
        run.mismatches.append(f"{len(g)} events, expected {len(w)}")
    for name, value in run.registers.items():  # counters read through the register block
        if name in seg["counters"] and value != seg["counters"][name]:
            run.mismatches.append(f"register {name}: read {value}, counter port {seg['counters'][name]}")
    for name in pipeline_counters(stim.input):
        if seg["counters"].get(name) != stim.counters.get(name, 0):
            run.mismatches.append(f"counter {name}: got {seg['counters'].get(name)}, "
                                  f"expected {stim.counters.get(name, 0)}")
    return run


def pipeline_factory(symbols: int, levels: int, names: int, bucket_bits: int, ways: int, stash: int, input: str,
                     rules: int = 0):
    """The Pipeline of a geometry given as plain values (so a build is cached per configuration)."""
    from tickgate.hdl.pipeline import Pipeline
    from tickgate.protocol.config import OrderTableConfig

    return Pipeline(BookGeometry(symbols, levels, names, OrderTableConfig(bucket_bits, ways, stash)), input=input,
                    rules=rules)


def geometry_config(geometry: BookGeometry, input: str, rules: int = 0) -> dict[str, object]:
    """`pipeline_factory`'s arguments (`rules` only when there is a rule table: older builds keep their key)."""
    t = geometry.order_table
    return {"symbols": geometry.symbols, "levels": geometry.levels, "names": geometry.names,
            "bucket_bits": t.bucket_bits, "ways": t.ways, "stash": t.stash, "input": input,
            **({"rules": rules} if rules else {})}


def run_pipeline(stims: list[PipelineStimulus], geometry: BookGeometry, config: RunConfig, *, seed: int = 1,
                 idle: float = 0.0, stall: float = 0.0, waves: str | os.PathLike[str] | None = None,
                 workdir: str | os.PathLike[str] | None = None) -> list[PipelineRun]:
    """Simulate the pipeline RTL on each stimulus in turn (a reset between them) in one run; score each."""
    from tickgate.sim.build import cocotb_build, cocotb_test, generate_verilog

    inputs = {s.input for s in stims}
    if len(inputs) != 1:
        raise ValueError("the segments of one run share their input side")
    input = inputs.pop()
    factory_config = geometry_config(geometry, input, config.max_rules)
    verilog = generate_verilog(pipeline_factory, "tickgate_pipeline", factory_config)
    kind = None if waves is None else ("vcd" if str(waves).endswith(".vcd") else "fst")
    build = cocotb_build(verilog, "tickgate_pipeline", waves=kind)
    with tempfile.TemporaryDirectory(prefix="tickgate-pipeline-") as tmp:
        tmp_path = Path(tmp)
        stimulus_path, output_path = tmp_path / "stimulus.bin", tmp_path / "output.json"
        stimulus_path.write_bytes(SEGMENT.join(b"".join(len(p).to_bytes(4, "little") + p for p in s.packets)
                                               for s in stims))
        env = {"TB_STIMULUS": str(stimulus_path), "TB_OUTPUT": str(output_path), "TB_INPUT": input,
               "TB_REGISTERS": json.dumps(config.registers()), "TB_SEED": str(seed), "TB_IDLE": str(idle),
               "TB_STALL": str(stall)}
        cocotb_test(build, TB_MODULE, env=env, waves=waves, workdir=workdir or tmp_path / "run")
        out = json.loads(output_path.read_text())
    wall = out["wall_seconds"] / max(1, len(stims))
    return [score(s, seg, wall) for s, seg in zip(stims, out["segments"], strict=True)]
