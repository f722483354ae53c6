"""RingWriter in Amaranth's simulator against an AXI RAM model of host memory: every event reaches the host in
order across ring wraps, a full ring holds (counted once per held event) until the host consumes, a ring reset
restarts both indices behind a head line of 0, error answers are counted, back-pressure on AW, W and B, and
no burst crosses 4 KiB or breaks the F2 shell's rules."""

from __future__ import annotations

import gc
import random
import warnings
from dataclasses import dataclass, field

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from tickgate.protocol.f2_map import HEAD_PRODUCER_OFFSET, RING_ALIGN

from .pcim import MAX_OUTSTANDING, RingWriter
from .pcis import INCR, OKAY, SLVERR

BASE = 0x7_0000_3000  # ring base: 4 KiB aligned, above 4 GiB
HEAD = 0x7_1000_0040  # head line
LIMIT = 60_000
MASK32 = (1 << 32) - 1


@dataclass
class Ram:
    """Host memory behind PCIM: takes AW and W with random ready, answers B in order after a random delay.

    Checks every write against the F2 shell's rules (AWSIZE 6, INCR, ID 0, whole strobes, WLAST on the last
    beat, no 4 KiB crossing, at most MAX_OUTSTANDING awaiting B). `error(addr)` says which bursts answer
    SLVERR (their data is not written, as the shell drops them). `log` holds (cycle, address, beats).
    """

    rng: random.Random
    ready: float = 1.0  # AWREADY / WREADY rate
    b_ready_delay: tuple[int, int] = (0, 0)  # cycles before a B may be offered
    error: object = staticmethod(lambda addr: False)
    mem: dict[int, int] = field(default_factory=dict)
    log: list[tuple[int, int, int]] = field(default_factory=list)
    max_outstanding: int = 0
    cycle: int = 0

    async def run(self, ctx, bus) -> None:
        aws: list[list[int]] = []  # [addr, beats, beats taken]
        responses: list[tuple[int, int]] = []  # (cycle due, resp)
        outstanding = 0
        while True:
            aw_ready = self.rng.random() < self.ready
            w_ready = self.rng.random() < self.ready and bool(aws) and aws[0][2] < aws[0][1]
            ctx.set(bus.awready, aw_ready)
            ctx.set(bus.wready, w_ready)
            b_on = bool(responses) and responses[0][0] <= self.cycle
            ctx.set(bus.bvalid, b_on)
            ctx.set(bus.bid, 0)
            ctx.set(bus.bresp, responses[0][1] if b_on else 0)
            if b_on and ctx.get(bus.bready):
                responses.pop(0)
                outstanding -= 1
            if aw_ready and ctx.get(bus.awvalid):
                addr, beats = ctx.get(bus.awaddr), ctx.get(bus.awlen) + 1
                assert ctx.get(bus.awsize) == 6 and ctx.get(bus.awburst) == INCR and ctx.get(bus.awid) == 0
                assert addr % 64 == 0 and addr // RING_ALIGN == (addr + 64 * beats - 1) // RING_ALIGN, hex(addr)
                aws.append([addr, beats, 0])
                self.log.append((self.cycle, addr, beats))
                outstanding += 1
                self.max_outstanding = max(self.max_outstanding, outstanding)
                assert outstanding <= MAX_OUTSTANDING
            if w_ready and ctx.get(bus.wvalid):
                addr, beats, taken = aws[0]
                assert ctx.get(bus.wstrb) == (1 << 64) - 1 and ctx.get(bus.wid) == 0
                assert ctx.get(bus.wlast) == (taken == beats - 1)
                if not self.error(addr):
                    self.mem[addr + 64 * taken] = ctx.get(bus.wdata)
                aws[0][2] += 1
                if aws[0][2] == beats:
                    aws.pop(0)
                    lo, hi = self.b_ready_delay
                    due = max(self.cycle + self.rng.randint(lo, hi), responses[-1][0] if responses else 0)
                    responses.append((due, SLVERR if self.error(addr) else OKAY))
            assert not ctx.get(bus.arvalid)
            await ctx.tick()
            self.cycle += 1
            assert self.cycle < LIMIT, "bench ran past its limit"


class Bench:
    """A RingWriter, its RAM, an event source and a host that polls the head line and consumes records."""

    def __init__(self, *, seed: int = 0, size_log2: int = 6, ready: float = 1.0, b_delay=(2, 6),
                 source_rate: float = 1.0, error=lambda addr: False, depth: int = 16, max_burst: int = 64) -> None:
        self.rng = random.Random(seed)
        self.dut = RingWriter(depth=depth, max_burst=max_burst)
        self.ram = Ram(random.Random(seed + 1), ready=ready, b_ready_delay=b_delay, error=error)
        self.size_log2, self.source_rate = size_log2, source_rate
        self.sent = 0  # events the source has handed over
        self.source_on = True
        self.got: list[int] = []
        self.consumer = 0
        self.full_pulses = self.error_pulses = 0

    @staticmethod
    def event(n: int) -> int:
        return (n + 1) * 0x0123_4567_89AB_CDEF << 64 | n  # distinct in every lane that matters

    def producer(self) -> int | None:
        line = self.ram.mem.get(HEAD)
        return None if line is None else line >> (8 * HEAD_PRODUCER_OFFSET) & MASK32

    async def source(self, ctx) -> None:
        events = self.dut.events
        while True:
            on = self.source_on and self.rng.random() < self.source_rate
            ctx.set(events.valid, on)
            ctx.set(events.payload, self.event(self.sent))
            counts = self.dut.control.counts
            self.full_pulses += ctx.get(counts.ring_full)
            self.error_pulses += ctx.get(counts.pcim_errors)
            if on and ctx.get(events.ready):
                self.sent += 1
            await ctx.tick()

    def set_consumer(self, ctx, value: int) -> None:
        self.consumer = value
        ctx.set(self.dut.control.cfg.consumer, value & MASK32)

    def consume(self, ctx, limit: int | None = None) -> int:
        """Read the records the head line announces (at most `limit`); store the consumer index. Returns how many."""
        producer = self.producer()
        if producer is None:
            return 0
        n = (producer - self.consumer) & MASK32
        assert n <= 1 << self.size_log2, "the card announced more than a ring of records"
        if limit is not None:
            n = min(n, limit)
        for i in range(self.consumer, self.consumer + n):
            self.got.append(self.ram.mem.get(BASE + 64 * (i % (1 << self.size_log2))))
        self.set_consumer(ctx, self.consumer + n)
        return n

    async def configure(self, ctx, *, enable: bool = True) -> None:
        cfg = self.dut.control.cfg
        ctx.set(cfg.base_page, BASE >> 12)
        ctx.set(cfg.head_line, HEAD >> 6)
        ctx.set(cfg.size_log2, self.size_log2)
        ctx.set(cfg.enable, enable)
        await self.reset(ctx)

    async def reset(self, ctx) -> None:
        ctx.set(self.dut.control.reset, 1)
        self.set_consumer(ctx, 0)  # the register block zeroes ring_consumer with the command
        await ctx.tick()
        ctx.set(self.dut.control.reset, 0)

    async def until(self, ctx, condition, cycles: int = 20_000) -> None:
        for _ in range(cycles):
            if condition():
                return
            await ctx.tick()
        raise AssertionError("condition never met")

    def run(self, body) -> None:
        sim = Simulator(self.dut)
        sim.add_clock(4e-9)

        async def ram(ctx):
            await self.ram.run(ctx, self.dut.bus)

        sim.add_testbench(ram, background=True)
        sim.add_testbench(self.source, background=True)
        sim.add_testbench(body)
        sim.run()


def expected(first: int, n: int) -> list[int]:
    return [Bench.event(i) for i in range(first, first + n)]


@pytest.mark.parametrize(("ready", "b_delay", "source_rate"), [(1.0, (0, 0), 1.0), (0.5, (0, 40), 0.7),
                                                               (0.3, (10, 80), 1.0)])
def test_events_reach_the_host_in_order_across_wraps(ready, b_delay, source_rate):
    """A 64-record ring wrapped several times under back-pressure on AW/W and slow B: every event, in order."""
    bench = Bench(seed=3, ready=ready, b_delay=b_delay, source_rate=source_rate)
    total = 64 * 5 + 17

    async def body(ctx):
        await bench.configure(ctx)
        await bench.until(ctx, lambda: bench.producer() == 0)  # the reset's head line comes first
        while len(bench.got) < total:
            bench.consume(ctx)
            if bench.sent >= total:
                bench.source_on = False
            await ctx.tick()

    bench.run(body)
    assert bench.got[:total] == expected(0, total)
    assert bench.error_pulses == 0
    ring = [(a, n) for _, a, n in bench.ram.log if a != HEAD]
    assert all(a >= BASE and a + 64 * n <= BASE + 64 * 64 for a, n in ring)
    if source_rate == 1.0 and b_delay[0] > 0:
        assert max(n for _, n in ring) > 1, "events that wait go out in bursts"
    assert bench.ram.max_outstanding <= MAX_OUTSTANDING


def test_full_ring_holds_until_the_host_consumes():
    """A host that stalls: the writer fills the 64 records, holds, counts each held event once; nothing lost."""
    bench = Bench(seed=4)
    seen = {}

    async def body(ctx):
        await bench.configure(ctx)
        await bench.until(ctx, lambda: bench.producer() == 64)
        for _ in range(200):  # the host stalls: nothing more is written
            await ctx.tick()
        seen["writes"] = len(bench.ram.log)
        seen["full"] = bench.full_pulses
        seen["sent"] = bench.sent
        bench.consume(ctx, limit=10)  # frees 10 records: exactly 10 more are written
        await bench.until(ctx, lambda: bench.producer() == 74)
        for _ in range(200):
            await ctx.tick()
        seen["producer_after"] = bench.producer()
        while len(bench.got) < 300:
            bench.consume(ctx)
            await ctx.tick()

    bench.run(body)
    assert seen["sent"] == 64 + 16  # the ring and the FIFO; the next event waits in the source
    assert seen["full"] == 1  # one held event, counted once however long it waits
    assert seen["producer_after"] == 74
    assert bench.full_pulses >= 2  # held again after the 10 freed records were refilled
    assert bench.got[:300] == expected(0, 300)


@pytest.mark.parametrize("quiet", [True, False])
def test_reset_restarts_both_indices_behind_a_head_line_of_zero(quiet):
    """A reset with the ring quiet loses nothing; one mid-stream keeps the stream contiguous from where the
    writer stood, and a head line of 0 precedes every record written after it."""
    bench = Bench(seed=5, b_delay=(5, 30), source_rate=0.5)
    seen = {}

    async def body(ctx):
        await bench.configure(ctx)
        await bench.until(ctx, lambda: bench.producer() is not None and bench.producer() >= 40)
        if quiet:
            bench.source_on = False
            await bench.until(ctx, lambda: bench.producer() == bench.sent)
        bench.consume(ctx)
        seen["before"] = list(bench.got)
        bench.got.clear()
        seen["reset_cycle"] = bench.ram.cycle
        await bench.reset(ctx)
        bench.source_on = True
        await bench.until(ctx, lambda: bench.producer() == 0)
        seen["zero_cycle"] = bench.ram.cycle
        while len(bench.got) < 150:
            bench.consume(ctx)
            await ctx.tick()

    bench.run(body)
    before = seen["before"]
    assert before == expected(0, len(before))
    first = bench.got[0] & MASK32  # the event index the first record after the reset carries
    if quiet:
        assert first == len(before)
    else:
        assert first >= len(before)  # records written but not announced before the reset are the host's loss
    assert bench.got[:150] == expected(first, 150)
    after = [(c, a) for c, a, _ in bench.ram.log if c > seen["reset_cycle"]]
    ring_writes = [c for c, a in after if a != HEAD]
    head_writes = [c for c, a in after if a == HEAD]
    pre_reset = [c for c in ring_writes if c <= seen["zero_cycle"] - 1]
    assert head_writes and all(c < head_writes[0] for c in pre_reset)  # only writes already under way
    first_record = min(c for c in ring_writes if c > head_writes[0])
    assert head_writes[0] < first_record


def test_error_responses_are_counted_and_the_writer_keeps_going():
    """Writes into one record slot answer SLVERR: counted once per burst, the other records arrive."""
    bad = BASE + 64 * 5
    bench = Bench(seed=6, b_delay=(1, 10), source_rate=0.3, max_burst=1,
                  error=lambda addr: addr == bad)
    total = 64 * 3

    async def body(ctx):
        await bench.configure(ctx)
        while len(bench.got) < total:
            bench.consume(ctx)
            await ctx.tick()
        bench.source_on = False

    bench.run(body)
    lost = [i for i in range(total) if i % 64 == 5]
    assert bench.error_pulses == len(lost)
    for i, got in enumerate(bench.got[:total]):
        if i not in lost:
            assert got == Bench.event(i), i


def test_disabled_ring_writes_nothing_and_events_wait():
    bench = Bench(seed=7)
    seen = {}

    async def body(ctx):
        await bench.configure(ctx, enable=False)
        for _ in range(300):
            await ctx.tick()
        seen["writes"] = len(bench.ram.log)
        seen["level"] = ctx.get(bench.dut.level)
        ctx.set(bench.dut.control.cfg.enable, 1)
        while len(bench.got) < 40:
            bench.consume(ctx)
            await ctx.tick()

    bench.run(body)
    assert seen["writes"] == 0 and seen["level"] == 16
    assert bench.got[:40] == expected(0, 40)


def test_bursts_stop_at_4_kib_and_at_the_ring_end():
    """A 128-record ring with a slow B so events pile up: bursts end at pages, never cross one, never wrap."""
    bench = Bench(seed=8, size_log2=7, b_delay=(60, 60), depth=64)
    total = 128 * 3

    async def body(ctx):
        await bench.configure(ctx)
        while len(bench.got) < total:
            bench.consume(ctx)
            await ctx.tick()

    bench.run(body)
    assert bench.got[:total] == expected(0, total)
    ring = [(a, n) for _, a, n in bench.ram.log if a != HEAD]
    assert max(n for _, n in ring) > 8
    assert any((a + 64 * n) % RING_ALIGN == 0 and n > 1 for a, n in ring)  # bursts that end at a page


def test_arguments_are_checked():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)  # the refused components are never elaborated
        for kwargs, match in (({"depth": 1}, "depth"), ({"max_burst": 65}, "max_burst"),
                              ({"max_outstanding": 33}, "max_outstanding")):
            with pytest.raises(ValueError, match=match):
                RingWriter(**kwargs)
        gc.collect()
