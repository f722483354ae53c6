"""Run `ItchDecoder` in Amaranth's simulator on MoldUDP64 packets, with seeded input gaps and output stalls.

For tests and quick experiments (about two thousand cycles a second); long replays belong to Verilator.
Also the small builders the tests share: `packet` (with a count or tail that can lie) and `random_message`.
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from amaranth.hdl import Value
from amaranth.lib import data
from amaranth.sim import Simulator

from tickgate.hdl.decoder import DECODER_COUNTERS, ItchDecoder
from tickgate.hdl.layouts import BEAT_BYTES, DecodedRecord, PacketBeat
from tickgate.model.decoder import ReferenceDecoder
from tickgate.protocol.itch_spec import LENGTHS
from tickgate.protocol.moldudp64 import BLOCK_LEN, HEADER_LEN, HEADER_STRUCT, blocks, parse_header

__all__ = ["SESSION", "DecoderRun", "beats_of", "check_against_reference", "message_latencies", "packet",
           "random_message", "run_decoder"]


def _fields(layout: data.StructLayout) -> list[tuple[str, int, int]]:
    return [(name, f.offset, f.width) for name, f in layout]


_RECORD = _fields(DecodedRecord)
_BEAT = {name: offset for name, offset, _ in _fields(PacketBeat)}


def beats_of(payload: bytes) -> list[int]:
    """A packet as `PacketBeat` integers: 8 bytes a beat, `nbytes` and `last` on the final one."""
    if not payload:
        raise ValueError("a packet has at least one byte")
    out = []
    for pos in range(0, len(payload), BEAT_BYTES):
        chunk = payload[pos:pos + BEAT_BYTES]
        last = pos + BEAT_BYTES >= len(payload)
        out.append(int.from_bytes(chunk, "little") << _BEAT["data"] | len(chunk) << _BEAT["nbytes"]
                   | int(last) << _BEAT["last"])
    return out


def _unpack(value: int, fields: list[tuple[str, int, int]]) -> dict[str, int]:
    return {name: (value >> offset) & ((1 << width) - 1) for name, offset, width in fields}


@dataclass
class DecoderRun:
    """What one simulation saw: records, final counters and per-cycle flow facts."""

    records: list[dict[str, int]] = field(default_factory=list)
    record_cycles: list[int] = field(default_factory=list)  # cycle each record was taken from `o`
    beat_cycles: list[list[int]] = field(default_factory=list)  # per packet, the cycle each beat was accepted
    counters: dict[str, int] = field(default_factory=dict)
    cycles: int = 0
    stalls: int = 0  # cycles with input offered and `i.ready` low


def run_decoder(packets: Iterable[bytes], *, seed: int = 0, valid_rate: float = 1.0, ready_rate: float = 1.0,
                session: bytes | None = None, first_sequence: int | None = None, max_cycles: int = 200_000,
                dut: ItchDecoder | None = None) -> DecoderRun:
    """Feed `packets` (MoldUDP64 payloads) through a decoder; AssertionError past `max_cycles`."""
    pkts = [beats_of(p) for p in packets]
    dut = dut or ItchDecoder()
    rng = random.Random(seed)
    run = DecoderRun(beat_cycles=[[] for _ in pkts])
    flat = [(p, b) for p, beats in enumerate(pkts) for b in beats]
    i_payload, o_payload = Value.cast(dut.i.payload), Value.cast(dut.o.payload)
    counters = _fields(dut.counters.shape())

    async def driver(ctx) -> None:
        """A process, not a testbench: inputs change with the clock edge, so the design settles once a cycle."""
        with ctx.critical():  # a process is in the background unless it says so
            if session is not None:
                ctx.set(dut.cfg.session, int.from_bytes(session, "little"))
                ctx.set(dut.cfg.session_en, 1)
            if first_sequence is not None:
                ctx.set(dut.cfg.first_sequence, first_sequence)
                ctx.set(dut.cfg.first_sequence_en, 1)
            pos = quiet = cycle = 0
            offer = take = False

            def drive() -> None:
                nonlocal offer, take
                offer = pos < len(flat) and (valid_rate >= 1 or rng.random() < valid_rate)
                take = ready_rate >= 1 or rng.random() < ready_rate
                ctx.set(dut.i.valid, offer)
                if offer:
                    ctx.set(i_payload, flat[pos][1])
                ctx.set(dut.o.ready, take)

            drive()
            samples = ctx.tick().sample(dut.i.ready, dut.o.valid, o_payload, Value.cast(dut.counters))
            async for _clk, _rst, i_ready, o_valid, o_data, counts in samples:
                final = counts
                # What the design showed during `cycle`, with the inputs driven for it.
                if offer and i_ready:
                    run.beat_cycles[flat[pos][0]].append(cycle)
                    pos += 1
                elif offer:
                    run.stalls += 1
                if take and o_valid:
                    run.records.append(_unpack(o_data, _RECORD))
                    run.record_cycles.append(cycle)
                quiet = 0 if (pos < len(flat) or o_valid) else quiet + 1
                cycle += 1
                if quiet == 8:  # nothing in or out for a while: the pipeline is empty
                    break
                if cycle >= max_cycles:
                    raise AssertionError(f"decoder still busy after {max_cycles} cycles ({pos}/{len(flat)} beats in)")
                drive()
            run.cycles = cycle
            run.counters = _unpack(final, counters)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(driver)
    sim.run()
    assert set(run.counters) == set(DECODER_COUNTERS)
    return run


def check_against_reference(packets: Iterable[bytes], **kwargs) -> DecoderRun:
    """Run the decoder and `ReferenceDecoder` on the same packets; AssertionError on any difference.

    `kwargs` go to `run_decoder` (`session` and `first_sequence` to both).
    """
    pkts = list(packets)
    ref = ReferenceDecoder(session=kwargs.get("session"), first_sequence=kwargs.get("first_sequence"))
    for p in pkts:
        ref.feed(p)
    run = run_decoder(pkts, **kwargs)
    for n, (got, want) in enumerate(zip(run.records, ref.records, strict=False)):
        if got != want:
            diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
            raise AssertionError(f"record {n} differs (got, want): {diff}; want {want}")
    if len(run.records) != len(ref.records):
        raise AssertionError(f"{len(run.records)} records, the reference has {len(ref.records)}")
    diff = {k: (v, ref.counters[k]) for k, v in run.counters.items() if v != ref.counters[k]}
    if diff:
        raise AssertionError(f"counters differ (got, want): {diff}")
    return run


def message_latencies(packets: list[bytes], run: DecoderRun) -> list[int]:
    """Cycles from accepting the beat that holds each message's last byte to its record on `o`.

    For well-formed packets only (every sequence number seen once); notices are left out.
    """
    done_at: dict[int, int] = {}
    for p, payload in enumerate(packets):
        hdr = parse_header(payload)
        pos = HEADER_LEN
        for i, msg in enumerate(blocks(payload)):
            pos += BLOCK_LEN + len(msg)
            done_at[hdr.sequence_number + i] = run.beat_cycles[p][(pos - 1) // BEAT_BYTES]
    return [cycle - done_at[rec["seq"]] for rec, cycle in zip(run.records, run.record_cycles, strict=True)
            if rec["notice"] == 0]


SESSION = b"TICKGATE01"


def random_message(rng: random.Random, type_: str) -> bytes:
    """A well-formed ITCH message of `type_` with random field bytes."""
    return type_.encode("ascii") + rng.randbytes(LENGTHS[type_] - 1)


def packet(seq: int, messages: Iterable[bytes], *, session: bytes = SESSION, count: int | None = None,
           tail: bytes = b"") -> bytes:
    """A MoldUDP64 packet of length-prefixed `messages`; `count` and `tail` (raw bytes after) can lie."""
    msgs = list(messages)
    body = b"".join(len(msg).to_bytes(BLOCK_LEN, "big") + msg for msg in msgs)
    return HEADER_STRUCT.pack(session, seq, len(msgs) if count is None else count) + body + tail
