"""DmaUnframer in Amaranth's simulator: beats, receive times and counts equal a direct reading of the stream."""

import gc
import random
import warnings
from dataclasses import dataclass, field

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from tickgate.protocol.moldudp64 import DMA_HEADER_LEN, DmaHeader, pack_dma

from .dma import HEADER_WORDS, DmaUnframer
from .layouts import BEAT_BYTES


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


def reference(words: list[int], max_length: int = 1500) -> Expected:
    """The unframer's documented behaviour, read directly off the words (see hdl/dma.py)."""
    exp = Expected()
    pos, hunting = 0, False
    while pos + HEADER_WORDS <= len(words):
        hdr = b"".join(w.to_bytes(8, "little") for w in words[pos:pos + HEADER_WORDS])
        h = DmaHeader.decode(hdr)
        ok = 1 <= h.length <= max_length and (not hunting or hdr[2:8] == bytes(6))
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
        exp.beats += beats(body[:h.length], h.rx_time_ns, body)
        pos += HEADER_WORDS + n
    return exp


def run(words: list[int], *, max_length: int = 1500, seed: int = 0, valid_rate: float = 1.0,
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


@pytest.mark.parametrize("length", [0, 1501, 0xFFFF])
def test_bad_length_counted_and_resynchronised(length):
    """A bad header (rx_time 0, so no window through it is a header) costs exactly its own two words."""
    rng = random.Random(length)
    before, after = packets(rng, 3, (20, 90)), packets(rng, 3, (20, 90))
    bad = DmaHeader(length, 0).encode()
    words = words_of(pack_dma(before) + bad + pack_dma(after))
    got, _, _ = run(words, seed=4, valid_rate=0.8, ready_rate=0.8)
    assert got.beats == [b for p, rx in before + after for b in beats(p, rx, p + bytes(8))]
    assert (got.bad, got.skipped) == (1, DMA_HEADER_LEN // 8)


def test_max_length_is_a_parameter():
    rng = random.Random(5)
    ok, too_long = (rng.randbytes(64), 7), (b"\xaa" * 65, 0x1234_5678_9ABC_DEF0)
    words = words_of(pack_dma([ok, too_long, ok]))
    got, _, _ = run(words, max_length=64)
    want = reference(words, 64)
    assert got == want
    assert got.bad == 1 and got.beats[:8] == beats(ok[0], 7, ok[0]) and got.beats[-8:] == got.beats[:8]
    # the 65-byte packet's payload is hunted through: its header's two words and 9 payload words are skipped
    assert got.skipped == 2 + 9


def test_garbage_between_packets_matches_the_reference():
    """ASCII and random words between batches: the same beats and counts as the reference reading."""
    rng = random.Random(6)
    stream = b""
    for n in range(12):
        stream += pack_dma(packets(rng, rng.randint(1, 3), (20, 120)))
        if n % 3 == 1:
            stream += b"TICKGATE" * rng.randint(1, 3)  # session-like ASCII: never a length <= 1500
        elif n % 3 == 2:
            stream += DmaHeader(0, rng.getrandbits(64)).encode()
    words = words_of(stream)
    want = reference(words)
    got, _, _ = run(words, seed=7, valid_rate=0.9, ready_rate=0.7)
    assert got == want
    assert want.bad == 8 and want.skipped >= 8 and len(want.beats) > 100


def test_rejects_bad_parameters():
    for bad in (0, 1 << 16, 1.5, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnusedElaboratable)
            with pytest.raises(ValueError):
                DmaUnframer(max_length=bad)
            gc.collect()  # the half-made component warns when collected: inside the filter
