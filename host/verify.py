"""A day checked against the reference model in shards: each shard a Ray task, compared byte for byte.

A day is split by stock locate into N streams (feed-wide messages, locate 0, go to every shard), each packed anew
into MoldUDP64 packets. Which locate goes to which shard: `balance` counts the messages of each locate (in the
first BALANCE_SAMPLE messages) and deals the locates out busiest first, each to the shard with the fewest
messages so far, so the shards are about equal (a few symbols carry most of a day: `locate % N` leaves one shard
much bigger than the others, and the check takes as long as its biggest shard); a locate not counted goes to
shard `locate % N`, the split without a balance (host/verify_split.py). Each task reads the file itself and keeps
its shard's messages, natively (no Python per message of the day), so nothing large crosses Ray. It feeds the
same packets to the reference model and to the backend under test (the Verilated pipeline, or the software
card), compares the events (every field but ts_local) chunk by chunk in bounded memory, and the counters at the
end, and reports the number of differing events, the first one (both sides, and the day's message number that
caused it) and the counters that differ.

A shard is a stream of its own: its books see only its symbols, so capacity effects (a full symbol table)
can differ from the whole day's; within the shard, model and backend must agree exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tickgate.host.verify_split import BALANCE_SAMPLE, balance, chunk_packets, shard_chunks, shard_messages
from tickgate.protocol.config import BookGeometry, CardConfig, OrderTableConfig, register_writes
from tickgate.protocol.events import KIND_DTYPES, comparable
from tickgate.protocol.registers import REGISTER_MAP

__all__ = ["BALANCE_SAMPLE", "GEOMETRIES", "ShardSpec", "balance", "prepare", "shard_chunks", "shard_messages",
           "verify_shard"]

CHUNK_PACKETS = 2048  # packets fed to both sides between comparisons
SESSION = b"TGSHARD000"
GEOMETRIES = {  # the pipeline images a check builds (the first build of one takes minutes, then it is cached)
    "small": BookGeometry(symbols=64, levels=16, names=8,
                          order_table=OrderTableConfig(bucket_bits=8, ways=4, stash=4)),
    "default": BookGeometry(),
}


@dataclass(frozen=True)
class ShardSpec:
    """What a shard task checks: the backend against the model, with this card configuration and geometry.

    `library` and `counters` (the Verilated image and the pipeline's counter names) are found once by the
    caller (`prepare`), so no task imports the gateware or looks for the image; a task on a machine where
    `library` is absent finds (or builds) its own.

    `plant` is a test hook: (shard, n) changes the n-th message (1-based) of that shard for the backend
    only (one more share if it has a shares field, else one more in its last byte), as an RTL bug would
    disagree with the model from that message on."""

    backend: str = "sim"
    config: CardConfig = field(default_factory=CardConfig)
    geometry: BookGeometry = field(default_factory=lambda: GEOMETRIES["small"])
    plant: tuple[int, int] | None = None
    library: str | None = None
    counters: tuple[str, ...] = ()


def prepare(spec: ShardSpec) -> ShardSpec:
    """`spec` with the sim backend's image found (or built: minutes the first time) and its counter names, here,
    once for every task."""
    if spec.backend != "sim" or spec.library:
        return spec
    from tickgate.hdl.pipeline import pipeline_counters
    from tickgate.host.backend_sim import sim_geometry
    from tickgate.sim.verilated.build import library_for

    library = library_for(sim_geometry(spec.config, spec.geometry)[0])
    return replace(spec, library=str(library), counters=tuple(pipeline_counters("dma")))


def _planted(m: bytes) -> bytes:
    """The message with one share more (A, F, E, C, X, U: a field at a fixed offset), else its last byte + 1."""
    from tickgate.protocol import itch_spec

    spec = next((s for s in itch_spec.MESSAGES if s.type == chr(m[0])), None)
    fields = {f.name: f for f in spec.fields} if spec else {}
    f = next((fields[k] for k in ("shares", "executed_shares", "cancelled_shares") if k in fields), None)
    if f is None:
        return m[:-1] + bytes([(m[-1] + 1) & 0xFF])
    value = int.from_bytes(m[f.offset:f.offset + f.width], "big") + 1
    return m[:f.offset] + value.to_bytes(f.width, "big") + m[f.offset + f.width:]


def _open(spec: ShardSpec):
    from tickgate.host.backend import Backend, open_backend
    from tickgate.host.backend_sim import DEFAULT_QUIET, SimOptions

    model = open_backend("model", spec.config, announce=None)
    if spec.backend == "sim" and spec.library and Path(spec.library).is_file():
        from tickgate._driver import SimDevice

        device = SimDevice(spec.library, list(spec.counters), DEFAULT_QUIET)
        for name, value in register_writes(spec.config):
            device.write_register(REGISTER_MAP[name].offset, value)
        return model, Backend(device, "sim", f"Verilated pipeline ({Path(spec.library).parent.name})")
    return model, open_backend(spec.backend, spec.config, sim=SimOptions(geometry=spec.geometry), announce=None)


def _event(events: np.ndarray, i: int) -> dict:
    """Event `i` as a dict of its kind's fields (reserved bytes left out)."""
    dtype = KIND_DTYPES.get(int(events["kind"][i]), events.dtype)
    e = events[i:i + 1].view(dtype)[0]
    return {k: (v.decode("latin-1") if isinstance(v, bytes) else int(v))
            for k, v in zip(dtype.names, e.item(), strict=True) if not k.startswith("reserved")}


def verify_shard(path: str, shard: int, shards: int, spec: ShardSpec, assign: dict[int, int] | None = None) -> dict:
    """Check one shard of a day (`assign`: see `shard_messages`); a JSON-able report."""
    t0, c0 = time.perf_counter(), time.process_time()
    model, dut = _open(spec)
    plant = spec.plant[1] if spec.plant and spec.plant[0] == shard else None
    report = {"file": Path(path).name, "shard": shard, "shards": shards, "backend": spec.backend, "messages": 0,
              "events": 0, "mismatched_events": 0, "first_mismatch": None, "counter_mismatches": {}}
    origin: list[tuple[int, np.ndarray]] = []  # (first shard sequence, the day's message numbers) of recent chunks
    seq = 1
    for chunk in shard_chunks(path, shard, shards, assign):
        want = chunk_packets(chunk.frames, chunk.ends, SESSION, seq)
        got = want
        if plant is not None and seq <= plant < seq + len(chunk.ends):
            got = chunk_packets(_plant_frames(chunk, plant - seq), chunk.ends, SESSION, seq)
        origin = [*origin[-1:], (seq, chunk.numbers)]  # events come from the packets fed: the last chunks suffice
        seq += len(chunk.ends)
        for i in range(0, len(want), CHUNK_PACKETS):
            for w, g in zip(want[i:i + CHUNK_PACKETS], got[i:i + CHUNK_PACKETS], strict=True):
                model.feed(w, 0)
                dut.feed(g, 0)
            _compare(model.take_events(), dut.take_events(), report, origin)
    want_c, got_c = model.counters(), dut.counters()
    report["counter_mismatches"] = {k: {"backend": got_c.get(k), "model": v} for k, v in want_c.items()
                                    if got_c.get(k) != v}
    report["messages"] = seq - 1
    report["ok"] = report["mismatched_events"] == 0 and not report["counter_mismatches"]
    report["seconds"] = round(time.perf_counter() - t0, 3)
    report["cpu_seconds"] = round(time.process_time() - c0, 3)
    close = getattr(dut, "close", None)
    if close is not None:
        close()
    return report


def _plant_frames(chunk, i: int) -> bytes:
    """The chunk's frames with message i (0-based) planted."""
    start = int(chunk.ends[i - 1]) + 2 if i else 2
    return chunk.frames[:start] + _planted(chunk.message(i)) + chunk.frames[int(chunk.ends[i]):]


def _origin(origin: list[tuple[int, np.ndarray]], seq: int) -> int | None:
    """The day's message number of shard message `seq`."""
    for first, numbers in origin:
        if first <= seq < first + len(numbers):
            return int(numbers[seq - first])
    return None


def _compare(want: np.ndarray, got: np.ndarray, report: dict, origin: list[tuple[int, np.ndarray]]) -> None:
    n = min(len(want), len(got))
    cw, cg = comparable(want[:n]), comparable(got[:n])
    bad = np.flatnonzero((cw != cg).any(axis=1)) if n else np.zeros(0, dtype=np.int64)
    extra = abs(len(want) - len(got))
    if (len(bad) or extra) and report["first_mismatch"] is None:
        i = int(bad[0]) if len(bad) else n
        ev = want[i] if i < len(want) else got[i]
        seq = int(ev["seq"])
        report["first_mismatch"] = {
            "event": report["events"] + i,
            "message": _origin(origin, seq),  # the day's message number
            "backend": _event(got, i) if i < len(got) else None,
            "model": _event(want, i) if i < len(want) else None,
        }
    report["mismatched_events"] += len(bad) + extra
    report["events"] += len(want)
