"""LineArbiter (behind the DMA unframer, as in the pipeline) in Amaranth's simulator against `model.lines`: the
packets it hands the decoder, in order, and the per-line counters equal the model's, for A/B lines with loss,
a gap on both lines, the window and byte-bound rules, one line, the end of input; and its rate and latency."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from tickgate.model.lines import LineArbiter as ModelArbiter
from tickgate.model.session import MoldSession
from tickgate.model.sink import EventSink
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.moldudp64 import DmaFlag
from tickgate.protocol.registers import counter_names

from .dma import DmaUnframer
from .lines import LINE_COUNTERS, LineArbiter, connect_unframer
from .test_dma import words_of

SESSION = b"TICKGATE01"


class _Front(wiring.Component):
    """The pipeline's DMA front: unframer, then arbiter."""

    def __init__(self) -> None:
        self.unframer = DmaUnframer()
        self.arbiter = LineArbiter()
        super().__init__({"i": wiring.In(self.unframer.i.signature.flip()),
                          "o": wiring.Out(self.arbiter.o.signature)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.unframer, m.submodules.arbiter = self.unframer, self.arbiter
        wiring.connect(m, wiring.flipped(self.i), self.unframer.i)
        connect_unframer(m, self.unframer, self.arbiter)
        wiring.connect(m, self.arbiter.o, wiring.flipped(self.o))
        return m


def stream(n: int, seed: int, *, size: tuple[int, int] = (1, 6), msg: tuple[int, int] = (8, 40),
           start: int = 1) -> list[bytes]:
    """`n` MoldUDP64 packets of random messages, numbered from `start`, then an end of session."""
    rng = random.Random(seed)
    out, seq = [], start
    for _ in range(n):
        k = rng.randint(*size)
        out.append(mold.build(SESSION, seq, [rng.randbytes(rng.randint(*msg)) for _ in range(k)]))
        seq += k
    return [*out, mold.end_of_session(SESSION, seq)]


def two_lines(packets: list[bytes], loss: float, seed: int, *, skew: int = 1,
              lost_both: tuple[int, ...] = ()) -> list[tuple[bytes, int]]:
    """Lines A and B with independent loss (and `lost_both` lost on both), merged: B runs up to `skew` packets
    behind A."""
    rng = random.Random(seed)
    a = [(p, 0) for i, p in enumerate(packets) if i not in lost_both and rng.random() >= loss]
    b = [(p, 1) for i, p in enumerate(packets) if i not in lost_both and rng.random() >= loss]
    out, lag = [], []
    for pa in a:
        out.append(pa)
        lag.append(b.pop(0)) if b else None
        if len(lag) > rng.randint(0, skew):
            out.append(lag.pop(0))
    return [*out, *lag, *b]


def reference(feed: list[tuple[bytes, int]], window: int | None) -> tuple[list[bytes], dict[str, int]]:
    """The packets the model's session takes, in order, and its line counters."""
    counters = dict.fromkeys(counter_names(), 0)
    session = MoldSession(counters, EventSink(counters))
    if window is None:
        return [p for p, _ in feed], dict.fromkeys(LINE_COUNTERS, 0)
    arb = ModelArbiter(session, counters, window)
    out = []

    def take(released) -> None:  # each drawn, then given to the session, before the next
        for p, _rx in released:
            out.append(p)
            list(session.messages(p, 0))

    for p, line in feed:
        take(arb.offer(p, 0, line))
    take(arb.end_of_input())
    return out, {k: counters[k] for k in LINE_COUNTERS}


@dataclass
class Run:
    packets: list[bytes] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LINE_COUNTERS, 0))
    stalls: int = 0
    first_in: list[int] = field(default_factory=list)  # cycle each packet's first beat entered the arbiter
    first_out: list[int] = field(default_factory=list)  # cycle each packet's first beat left it


def run(feed: list[tuple[bytes, int]], window: int | None, *, end: bool = True, seed: int = 0,
        valid_rate: float = 1.0, ready_rate: float = 1.0) -> Run:
    """The DMA batch of `feed` (line flags, an end-of-input record last) through unframer and arbiter."""
    records = [(p, 0, DmaFlag.LINE_B * line) for p, line in feed]
    words = words_of(mold.pack_dma([*records, *([(b"", 0, DmaFlag.END_OF_INPUT)] if end else [])]))
    dut = _Front()
    arb = dut.arbiter
    rng = random.Random(seed)
    got = Run()

    async def bench(ctx) -> None:
        ctx.set(arb.cfg.two, window is not None)
        ctx.set(arb.cfg.window, window or 0)
        pos = quiet = cycles = 0
        data, first = bytearray(), True
        while quiet < 64:
            offer = pos < len(words) and rng.random() < valid_rate
            take = rng.random() < ready_rate
            ctx.set(dut.i.valid, offer)
            if offer:
                ctx.set(dut.i.payload, words[pos])
            ctx.set(dut.o.ready, take)
            await ctx.delay(1e-9)
            if offer and ctx.get(dut.i.ready):
                pos += 1
            elif offer:
                got.stalls += 1
            a = arb.i.payload
            if ctx.get(arb.i.valid) and ctx.get(arb.i.ready):
                if first and not (ctx.get(a.end_of_input) and ctx.get(a.length) == 0):
                    got.first_in.append(cycles)
                first = bool(ctx.get(a.beat.last))
            shipped = take and ctx.get(dut.o.valid)
            if shipped:
                p = dut.o.payload
                if not data:
                    got.first_out.append(cycles)
                n = ctx.get(p.nbytes)
                data += ctx.get(p.data).to_bytes(8, "little")[:n]
                if ctx.get(p.last):
                    got.packets.append(bytes(data))
                    data.clear()
            for name in LINE_COUNTERS:
                got.counters[name] += ctx.get(getattr(arb.counts, name))
            await ctx.tick()
            cycles += 1
            quiet = quiet + 1 if pos == len(words) and not shipped else 0
            assert cycles < 20 * len(words) + 200, "arbiter stuck"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got


def check(feed: list[tuple[bytes, int]], window: int | None, **kw) -> Run:
    got = run(feed, window, **kw)
    want, counters = reference(feed, window)
    assert got.packets == want
    assert got.counters == counters
    return got


@pytest.mark.parametrize(("seed", "loss", "window"), [(1, 0.05, 16), (2, 0.2, 4), (3, 0.3, 1), (4, 0.1, 0)])
def test_two_lines_with_loss_equal_the_model(seed: int, loss: float, window: int) -> None:
    """Independent loss per line, B behind A by up to three packets, packets lost on both lines (gaps), random
    back-pressure and idle input: the model's packets in its order, and its line counters."""
    packets = stream(60, seed)
    feed = two_lines(packets, loss, seed, skew=3, lost_both=(10, 11, 40))
    got = check(feed, window, seed=seed, valid_rate=0.7, ready_rate=0.6)
    assert got.counters["line_a_used"] + got.counters["line_b_used"] > 0


def test_both_ahead_release_the_lower_and_late_copies_are_counted() -> None:
    """Window 255: A holds past a hole, B holds past another; the lower start goes first; a copy that comes
    after its gap was declared is `late`."""
    p = stream(12, 5)
    feed = [(p[0], 0), (p[0], 1), (p[3], 0), (p[4], 0), (p[1], 1), (p[5], 1), (p[2], 0), (p[2], 1), (p[6], 0),
            (p[6], 1), *((x, 0) for x in p[7:])]
    got = check(feed, 255)
    assert got.counters["line_a_late"] + got.counters["line_b_late"] > 0


def test_the_byte_bound_releases_before_the_window() -> None:
    """A line holding more than LINE_BUFFER_BYTES (here 14 packets of about 1,400 bytes past a hole, B live but
    quiet) releases its first packet, as the model does: the hole becomes a gap long before the window of 255."""
    p = stream(30, 6, size=(40, 40), msg=(33, 33))
    assert all(1300 < len(x) < 1500 for x in p[:-1])
    feed = [(p[0], 0), (p[0], 1), *((x, 0) for x in p[2:25]), (p[1], 1), *((x, 1) for x in p[2:])]
    want, _ = reference(feed, 255)
    counters = dict.fromkeys(counter_names(), 0)
    session = MoldSession(counters, EventSink(counters))
    for x in want:
        list(session.messages(x, 0))
    assert counters["seq_gaps"] == 1  # the bound gave up on the hole before B's copy came
    check(feed, 255)


def test_one_line_passes_everything_in_order() -> None:
    """`lines` 0: every packet in arrival order, whatever its flag; no line counter; the end-of-input record
    is not passed on; an empty packet is (the decoder counts it malformed)."""
    packets = stream(30, 7)
    feed = [(x, i % 2) for i, x in enumerate(packets)]
    feed.insert(5, (b"", 0))
    check(feed, None, seed=7, ready_rate=0.5)


def test_no_end_of_input_keeps_what_waits() -> None:
    """Without the end-of-input record a held packet stays held, as in the model until `end_of_input`."""
    p = stream(6, 8)
    feed = [(p[0], 0), (p[0], 1), (p[2], 0)]  # A lost 1: held while B is live
    got = run(feed, 16, end=False)
    assert got.packets == [p[0], p[0]]
    assert check(feed, 16).packets[-1] == p[2]


def test_line_rate_and_latency() -> None:
    """Two lossless lines, every packet twice (packets of 7 beats and more), input one word a cycle: never a
    stall, and each packet leaves a few cycles after its first beat came in."""
    packets = stream(60, 9, size=(3, 12))
    feed = [(x, line) for x in packets for line in (0, 1)]
    got = check(feed, 16)
    assert got.stalls == 0
    latency = [o - i for i, o in zip(got.first_in, got.first_out, strict=True)]
    print(f"arbiter latency, first beat in to first beat out: min {min(latency)}, median "
          f"{statistics.median(latency)}, max {max(latency)} cycles")
    assert statistics.median(latency) <= 12 and max(latency) <= 16
