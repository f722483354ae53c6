"""DmaUnframer in Amaranth's simulator: beats, receive times and counts equal a direct reading of the stream."""

import gc
import random
import warnings
from dataclasses import dataclass, field

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from tickgate.protocol.moldudp64 import DMA_HEADER_LEN, MAX_PACKET, DmaFlag, DmaHeader, pack_dma

from .dma import HEADER_WORDS, DmaUnframer
from .layouts import BEAT_BYTES

KNOWN_FLAGS = int(DmaFlag.LINE_B | DmaFlag.END_OF_INPUT)


def words_of(batch: bytes) -> list[int]:
    """A byte stream as little-endian 64-bit words (its length a multiple of 8)."""
    assert len(batch) % BEAT_BYTES == 0
    return [int.from_bytes(batch[i:i + BEAT_BYTES], "little") for i in range(0, len(batch), BEAT_BYTES)]


def beats(payload: bytes, rx: int, padded: bytes) -> list[tuple[int, int, int, int]]:
    """(data, nbytes, last, rx_time) of each beat of a packet; `padded` is the packet as sent (zeros after)."""
    out = []
    for pos in range(0, len(payload), BEAT_BYTES):
        n = min(BEAT_BYTES, len(payload) - pos)
        out.append((int.from_bytes(padded[pos:pos + BEAT_BYTES], "little"), n, int(pos + n == len(payload)), rx))
    return out


@dataclass
class Expected:
    beats: list[tuple[int, int, int, int]] = field(default_factory=list)
    bad: int = 0
    skipped: int = 0
    oversize: int = 0


def reference(words: list[int], max_length: int = 1500) -> Expected:
    """The unframer's documented behaviour, read directly off the words (see hdl/dma.py)."""
    exp = Expected()
    pos, hunting = 0, False
    while pos + HEADER_WORDS <= len(words):
        hdr = b"".join(w.to_bytes(8, "little") for w in words[pos:pos + HEADER_WORDS])
        h = DmaHeader.decode(hdr)
        reserved_zero = h.flags & ~KNOWN_FLAGS == 0 and hdr[4:8] == bytes(4)
        ok = reserved_zero and (not hunting or 1 <= h.length <= max_length)
        if not ok:
            exp.bad += not hunting
            exp.skipped += 1
            pos, hunting = pos + 1, True
            continue
        hunting = False
        n = -(-h.length // BEAT_BYTES)
        body = b"".join(w.to_bytes(8, "little") for w in words[pos + HEADER_WORDS:pos + HEADER_WORDS + n])
        if len(body) < h.length:
            break  # the stream ends inside this packet: its beats so far come out, tested elsewhere
        if h.length == 0:
            exp.beats.append((0, 0, 1, h.rx_time_ns))
        elif h.length > max_length:
            exp.oversize += 1
            exp.skipped += n
        else:
            exp.beats += beats(body[:h.length], h.rx_time_ns, body)
        pos += HEADER_WORDS + n
    return exp


def run(words: list[int], *, max_length: int = MAX_PACKET, seed: int = 0, valid_rate: float = 1.0,
        ready_rate: float = 1.0, tail: int = 8) -> tuple[Expected, int, int]:
    """Feed `words`; what came out, the cycles it took and how often `i.ready` was low with input waiting."""
    dut = DmaUnframer(max_length=max_length)
    rng = random.Random(seed)
    got = Expected()
    stats = {"cycles": 0, "stalls": 0}

    async def bench(ctx) -> None:
        pos = quiet = 0
        while quiet < tail:
            offer = pos < len(words) and rng.random() < valid_rate
            take = rng.random() < ready_rate
            ctx.set(dut.i.valid, offer)
            if offer:
                ctx.set(dut.i.payload, words[pos])
            ctx.set(dut.o.ready, take)
            await ctx.delay(1e-9)  # let the comb logic settle before sampling
            if offer and ctx.get(dut.i.ready):
                pos += 1
            elif offer:
                stats["stalls"] += 1
            if take and ctx.get(dut.o.valid):
                p = dut.o.payload
                got.beats.append((ctx.get(p.data), ctx.get(p.nbytes), ctx.get(p.last), ctx.get(dut.rx_time)))
            await ctx.tick()
            got.bad += ctx.get(dut.dma_bad_length)
            got.skipped += ctx.get(dut.dma_skipped)
            got.oversize += ctx.get(dut.oversize)
            stats["cycles"] += 1
            quiet = quiet + 1 if pos == len(words) else 0
            assert stats["cycles"] < 20 * len(words) + 100, "unframer stuck"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got, stats["cycles"], stats["stalls"]


def packets(rng: random.Random, count: int, lengths=(1, 1500)) -> list[tuple[bytes, int]]:
    return [(rng.randbytes(rng.randint(*lengths)), rng.getrandbits(64)) for _ in range(count)]


def test_packets_pass_exactly_at_one_word_a_cycle():
    """Lengths 1..17 and a full 1500: every beat, nbytes, last and rx_time; 2 header cycles per packet, no stall."""
    rng = random.Random(1)
    pkts = [(rng.randbytes(n), rng.getrandbits(64)) for n in [*range(1, 18), 1500]]
    words = words_of(pack_dma(pkts))
    got, cycles, stalls = run(words)
    want = [b for p, rx in pkts for b in beats(p, rx, p + bytes(8))]
    assert got.beats == want
    assert (got.bad, got.skipped, stalls) == (0, 0, 0)
    assert cycles == len(words) + 7  # one word a cycle; the quiet tail of 8 starts with the last word's cycle
    assert len(words) == sum(HEADER_WORDS + -(-len(p) // 8) for p, _ in pkts)


def test_back_pressure_and_gaps_lose_nothing():
    rng = random.Random(2)
    pkts = packets(rng, 40, (1, 200))
    words = words_of(pack_dma(pkts))
    got, _, stalls = run(words, seed=3, valid_rate=0.6, ready_rate=0.5)
    assert got.beats == [b for p, rx in pkts for b in beats(p, rx, p + bytes(8))]
    assert stalls > 0 and (got.bad, got.skipped) == (0, 0)


@pytest.mark.parametrize("flags", [4, 0x8000, 0x8001])
def test_bad_header_counted_and_resynchronised(flags):
    """A header with its reserved bits set (flags but DmaFlag's; rx_time 0, so no window through it is a header)
    costs exactly its own two words."""
    rng = random.Random(flags)
    before, after = packets(rng, 3, (20, 90)), packets(rng, 3, (20, 90))
    bad = bytearray(DmaHeader(40, 0).encode())
    bad[2:4] = flags.to_bytes(2, "little")
    words = words_of(pack_dma(before) + bytes(bad) + pack_dma(after))
    got, _, _ = run(words, seed=4, valid_rate=0.8, ready_rate=0.8)
    assert got.beats == [b for p, rx in before + after for b in beats(p, rx, p + bytes(8))]
    assert (got.bad, got.skipped, got.oversize) == (1, DMA_HEADER_LEN // 8, 0)


def test_every_length_is_a_packet():
    """Issue 17 fault 6: an empty packet is one empty last beat (the decoder counts it malformed), a 1,532-byte
    packet passes whole (it used to lose the framing and swallow the next packet), and one longer than
    `max_length` is skipped whole and counted, the next packet intact."""
    rng = random.Random(8)
    empty, long, after = (b"", 5), (rng.randbytes(1532), 6), (rng.randbytes(30), 7)
    words = words_of(pack_dma([empty, long, after]))
    got, _, _ = run(words, seed=9, valid_rate=0.8, ready_rate=0.8)
    assert got.beats == [(0, 0, 1, 5), *beats(long[0], 6, long[0] + bytes(8)), *beats(after[0], 7, after[0] + bytes(8))]
    assert (got.bad, got.skipped, got.oversize) == (0, 0, 0)
    got, _, _ = run(words, max_length=1500)
    assert got == reference(words, 1500)
    assert got.beats == [(0, 0, 1, 5), *beats(after[0], 7, after[0] + bytes(8))]
    assert (got.bad, got.skipped, got.oversize) == (0, -(-1532 // 8), 1)


def test_max_length_is_a_parameter():
    rng = random.Random(5)
    ok, too_long = (rng.randbytes(64), 7), (b"\xaa" * 65, 0x1234_5678_9ABC_DEF0)
    words = words_of(pack_dma([ok, too_long, ok]))
    got, _, _ = run(words, max_length=64)
    want = reference(words, 64)
    assert got == want
    assert got.bad == 0 and got.oversize == 1
    assert got.beats[:8] == beats(ok[0], 7, ok[0]) and got.beats[-8:] == got.beats[:8]
    assert got.skipped == 9  # the 65-byte packet's payload words


def test_garbage_between_packets_matches_the_reference():
    """ASCII and random words between batches, and empty packets: the same beats and counts as the reference."""
    rng = random.Random(6)
    stream = b""
    for n in range(12):
        stream += pack_dma(packets(rng, rng.randint(1, 3), (20, 120)))
        if n % 3 == 1:
            stream += b"TICKGATE" * rng.randint(1, 3)  # session-like ASCII: never zero reserved bytes
        elif n % 3 == 2:
            stream += DmaHeader(0, rng.getrandbits(64)).encode()
    words = words_of(stream)
    want = reference(words)
    got, _, _ = run(words, seed=7, valid_rate=0.9, ready_rate=0.7)
    assert got == want
    assert want.bad == 4 and want.skipped >= 4 and len(want.beats) > 100
    assert sum(b[1] == 0 for b in want.beats) == 4


def test_rejects_bad_parameters():
    for bad in (0, 1 << 16, 1.5, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnusedElaboratable)
            with pytest.raises(ValueError):
                DmaUnframer(max_length=bad)
            gc.collect()  # the half-made component warns when collected: inside the filter


def test_line_and_end_of_input_flags_leave_beside_the_beats():
    """LINE_B and END_OF_INPUT are not reserved: each packet's beats carry its line, length and end flag; an
    END_OF_INPUT record of length 0 leaves as one empty beat with `end_of_input` and `length` 0."""
    rng = random.Random(9)
    pkts = [(rng.randbytes(n), 0, f) for n, f in ((30, 0), (17, DmaFlag.LINE_B), (9, DmaFlag.END_OF_INPUT),
                                                   (0, DmaFlag.END_OF_INPUT | DmaFlag.LINE_B))]
    dut = DmaUnframer()
    words = words_of(pack_dma(pkts))
    seen = []

    async def bench(ctx) -> None:
        ctx.set(dut.o.ready, 1)
        for w in [*words, *([None] * 6)]:
            ctx.set(dut.i.valid, w is not None)
            ctx.set(dut.i.payload, w or 0)
            await ctx.delay(1e-9)
            if ctx.get(dut.o.valid):
                seen.append((ctx.get(dut.o.payload.nbytes), ctx.get(dut.o.payload.last), ctx.get(dut.line),
                             ctx.get(dut.end_of_input), ctx.get(dut.length)))
            await ctx.tick()
            assert not ctx.get(dut.dma_bad_length)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    want = [(min(8, len(p) - pos), int(pos + 8 >= len(p)), f & 1, f >> 1 & 1, len(p))
            for p, _, f in pkts for pos in range(0, max(1, len(p)), 8)]
    assert seen == want
