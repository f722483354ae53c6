"""PcisBridge in Amaranth's simulator: H2C bursts become the exact word stream, C2H reads pop events, errors answer."""

import gc
import random
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from tickgate.protocol.f1_map import EGRESS_BASE, EGRESS_SIZE, INGRESS_BASE, INGRESS_SIZE
from tickgate.protocol.moldudp64 import pack_dma

from .pcis import BEAT_BYTES, DECERR, OKAY, SLVERR, PcisBridge

LIMIT = 20_000


class Bench:
    """An AXI-4 manager on `bus` and a word sink on `dma_in` (random ready), an event source on `events`."""

    def __init__(self, dut: PcisBridge, seed: int = 0, ready_rate: float = 1.0) -> None:
        self.dut, self.rng, self.ready_rate = dut, random.Random(seed), ready_rate
        self.words: list[int] = []
        self.counts = dict.fromkeys(dut.counts.shape().members, 0)
        self.cycles = 0
        self.sink_on = True

    async def tick(self, ctx) -> None:
        await ctx.tick()
        self.cycles += 1
        assert self.cycles < LIMIT, "bench ran past its limit"

    async def sink(self, ctx) -> None:
        """Takes `dma_in` words with random ready; adds up the count pulses."""
        dut = self.dut
        while True:
            take = self.sink_on and self.rng.random() < self.ready_rate
            ctx.set(dut.dma_in.ready, take)
            if take and ctx.get(dut.dma_in.valid):
                self.words.append(ctx.get(dut.dma_in.payload))
            for name in self.counts:
                self.counts[name] += ctx.get(dut.counts[name])
            await ctx.tick()

    async def _handshake(self, ctx, prefix: str, fields: dict[str, int]) -> None:
        bus = self.dut.bus
        for name, value in fields.items():
            ctx.set(getattr(bus, name), value)
        ctx.set(getattr(bus, f"{prefix}valid"), 1)
        while True:
            ready = ctx.get(getattr(bus, f"{prefix}ready"))
            await self.tick(ctx)
            if ready:
                break
        ctx.set(getattr(bus, f"{prefix}valid"), 0)

    async def write(self, ctx, addr: int, beats: list[tuple[int, int]], *, awid: int = 5, size: int = 6):
        """One burst of (data, strobe) beats: (BRESP, BID)."""
        await self._handshake(ctx, "aw", {"awaddr": addr, "awlen": len(beats) - 1, "awid": awid, "awsize": size})
        for n, (data, strb) in enumerate(beats):
            await self._handshake(ctx, "w", {"wdata": data, "wstrb": strb, "wlast": n == len(beats) - 1})
        values, _ = await self._response(ctx, "b", ("bresp", "bid"))
        return values

    async def _response(self, ctx, prefix: str, fields: tuple[str, ...]):
        bus = self.dut.bus
        ctx.set(getattr(bus, f"{prefix}ready"), 1)
        while True:
            valid = ctx.get(getattr(bus, f"{prefix}valid"))
            values = tuple(ctx.get(getattr(bus, f)) for f in fields)
            await self.tick(ctx)
            if valid:
                ctx.set(getattr(bus, f"{prefix}ready"), 0)
                return values, self.cycles

    async def read(self, ctx, addr: int, beats: int, *, arid: int = 9, size: int = 6):
        """One burst: [(RDATA, RRESP, RLAST, RID)]."""
        await self._handshake(ctx, "ar", {"araddr": addr, "arlen": beats - 1, "arid": arid, "arsize": size})
        out = []
        for _ in range(beats):
            values, _ = await self._response(ctx, "r", ("rdata", "rresp", "rlast", "rid"))
            out.append(values)
        return out

    def run(self, body) -> None:
        sim = Simulator(self.dut)
        sim.add_clock(1e-8)
        sim.add_testbench(self.sink, background=True)
        sim.add_testbench(body)
        sim.run()


def bursts(data: bytes, max_beats: int = 16) -> list[list[tuple[int, int]]]:
    """A byte string as XDMA writes it from a 64-byte aligned address: whole beats, strobes a prefix at the end."""
    beats = []
    for pos in range(0, len(data), BEAT_BYTES):
        chunk = data[pos:pos + BEAT_BYTES]
        beats.append((int.from_bytes(chunk, "little"), (1 << len(chunk)) - 1))
    return [beats[i:i + max_beats] for i in range(0, len(beats), max_beats)]


def words_of(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]


def test_h2c_bursts_become_the_word_stream():
    """DMA batches written in bursts anywhere in the ingress window come out as their words, in order."""
    rng = random.Random(1)
    batches = [pack_dma([(rng.randbytes(rng.randint(1, 300)), rng.getrandbits(64)) for _ in range(5)])
               for _ in range(4)]
    dut = PcisBridge(ingress_depth=64, egress_depth=8)
    bench = Bench(dut, seed=2, ready_rate=0.7)
    resps = []

    async def body(ctx):
        assert ctx.get(dut.ingress_free) == 64 * BEAT_BYTES
        for n, batch in enumerate(batches):
            for burst in bursts(batch):
                addr = INGRESS_BASE + [0, 0x40, INGRESS_SIZE - len(burst) * BEAT_BYTES, 0x1000][n]
                resps.append(await bench.write(ctx, addr, burst))
        while len(bench.words) < len(words_of(b"".join(batches))):
            await bench.tick(ctx)
        await bench.tick(ctx)
        assert ctx.get(dut.ingress_free) == 64 * BEAT_BYTES

    bench.run(body)
    assert bench.words == words_of(b"".join(batches))
    assert resps == [(OKAY, 5)] * len(resps)
    assert set(bench.counts.values()) == {0}


def test_strobes_select_whole_lanes_and_count_partial_ones():
    rng = random.Random(3)
    beat = rng.getrandbits(512)
    lanes = [(beat >> (64 * k)) & (2**64 - 1) for k in range(8)]
    dut = PcisBridge(ingress_depth=4, egress_depth=4)
    bench = Bench(dut)

    async def body(ctx):
        # lanes 2..7 (an unaligned start), then lanes 0..1 plus half of lane 2, then no strobes at all
        assert await bench.write(ctx, 0x80, [(beat, 0xFFFF_FFFF_FFFF_0000), (beat, 0x0F_FFFF), (beat, 0)]) == (OKAY, 5)
        for _ in range(20):
            await bench.tick(ctx)

    bench.run(body)
    assert bench.words == lanes[2:] + lanes[:2]
    assert bench.counts["partial_lanes"] == 1 and bench.counts["ingress_overflow"] == 0


def test_overflow_drops_counts_and_answers_slverr_without_stalling():
    dut = PcisBridge(ingress_depth=4, egress_depth=4)
    bench = Bench(dut)
    bench.sink_on = False
    data = bytes(range(256)) * 2  # 8 beats into a 4-entry FIFO
    seen = {}

    async def body(ctx):
        (burst,) = bursts(data)
        start = bench.cycles
        seen["resp"] = await bench.write(ctx, INGRESS_BASE, burst)
        seen["cycles"] = bench.cycles - start
        seen["free"] = ctx.get(dut.ingress_free)
        bench.sink_on = True
        for _ in range(60):
            await bench.tick(ctx)
        seen["free_after"] = ctx.get(dut.ingress_free)

    bench.run(body)
    assert seen["resp"] == (SLVERR, 5) and seen["free"] == 0 and seen["free_after"] == 4 * BEAT_BYTES
    assert seen["cycles"] <= 8 + 4  # every beat taken at once: AW, 8 W, B
    assert bench.counts["ingress_overflow"] == 4
    assert bench.words == words_of(data[:4 * BEAT_BYTES])


def test_c2h_reads_pop_events_then_zeros():
    rng = random.Random(4)
    events = [rng.getrandbits(512) for _ in range(5)]
    dut = PcisBridge(ingress_depth=4, egress_depth=8)
    bench = Bench(dut)
    got = {}

    async def body(ctx):
        for ev in events:
            ctx.set(dut.events.payload, ev)
            ctx.set(dut.events.valid, 1)
            assert ctx.get(dut.events.ready)
            await bench.tick(ctx)
        ctx.set(dut.events.valid, 0)
        await bench.tick(ctx)
        got["ready"] = ctx.get(dut.events_ready)
        got["first"] = await bench.read(ctx, EGRESS_BASE + 0x40, 3)
        got["rest"] = await bench.read(ctx, EGRESS_BASE + EGRESS_SIZE - 0x100, 4, arid=63)
        got["after"] = ctx.get(dut.events_ready)

    bench.run(body)
    assert got["ready"] == 5 and got["after"] == 0
    assert got["first"] == [(events[0], OKAY, 0, 9), (events[1], OKAY, 0, 9), (events[2], OKAY, 1, 9)]
    assert got["rest"] == [(events[3], OKAY, 0, 63), (events[4], OKAY, 0, 63), (0, OKAY, 0, 63), (0, OKAY, 1, 63)]
    assert bench.counts["egress_underflow"] == 2 and bench.counts["bad_reads"] == 0


@pytest.mark.parametrize(("kind", "addr", "size", "want"), [
    ("write", EGRESS_BASE, 6, SLVERR),
    ("write", INGRESS_BASE, 5, SLVERR),
    ("write", EGRESS_BASE + EGRESS_SIZE, 6, DECERR),
    ("write", 1 << 40, 6, DECERR),
    ("read", INGRESS_BASE + 0x40, 6, SLVERR),
    ("read", EGRESS_BASE, 3, SLVERR),
    ("read", EGRESS_BASE + EGRESS_SIZE, 6, DECERR),
])
def test_bad_requests_answer_and_are_counted(kind, addr, size, want):
    dut = PcisBridge(ingress_depth=4, egress_depth=4)
    bench = Bench(dut)
    got = {}

    async def body(ctx):
        ctx.set(dut.events.payload, 12345)
        ctx.set(dut.events.valid, 1)
        await bench.tick(ctx)
        ctx.set(dut.events.valid, 0)
        if kind == "write":
            got["resp"], bid = await bench.write(ctx, addr, [(2**512 - 1, 2**64 - 1)] * 2, size=size)
            assert bid == 5
        else:
            beats = await bench.read(ctx, addr, 2, size=size)
            got["resp"] = beats[0][1]
            assert [b[0] for b in beats] == [0, 0] and [b[2] for b in beats] == [0, 1]
        for _ in range(10):
            await bench.tick(ctx)
        got["ready"] = ctx.get(dut.events_ready)

    bench.run(body)
    assert got["resp"] == want
    assert bench.counts[f"bad_{kind}s"] == 1 and bench.words == [] and got["ready"] == 1


def test_f2_bus_takes_16_bit_ids_answers_reads_at_once_and_refuses_other_bursts():
    """F2: packets in as on F1 under 16-bit IDs; no egress FIFO, so every read answers zeros and an error at once;
    a burst that is not INCR answers SLVERR; RUSER reads 0."""
    rng = random.Random(5)
    batch = pack_dma([(rng.randbytes(rng.randint(1, 200)), rng.getrandbits(64)) for _ in range(4)])
    dut = PcisBridge(ingress_depth=64, egress_depth=4, platform="f2")
    assert "events" not in dut.signature.members and len(dut.bus.awid) == 16 and len(dut.bus.awuser) == 55
    bench = Bench(dut)
    got = {}

    async def body(ctx):
        ctx.set(dut.bus.awburst, 0b01)
        for burst in bursts(batch):
            assert await bench.write(ctx, INGRESS_BASE, burst, awid=0x20) == (OKAY, 0x20)
        start = bench.cycles
        got["egress"] = await bench.read(ctx, EGRESS_BASE, 4, arid=0xBEEF)
        got["cycles"] = bench.cycles - start
        got["outside"] = await bench.read(ctx, 1 << 40, 1, arid=0x20)
        got["ruser"] = ctx.get(dut.bus.ruser)
        ctx.set(dut.bus.awburst, 0b00)  # FIXED
        got["fixed"] = await bench.write(ctx, INGRESS_BASE, [(2**512 - 1, 2**64 - 1)], awid=7)
        for _ in range(120):  # the words drain at one a cycle
            await bench.tick(ctx)

    bench.run(body)
    assert bench.words == words_of(batch)
    assert got["egress"] == [(0, SLVERR, 0, 0xBEEF)] * 3 + [(0, SLVERR, 1, 0xBEEF)]
    assert got["cycles"] <= 4 + 3  # AR, then a beat a cycle: nothing waits
    assert got["outside"] == [(0, DECERR, 1, 0x20)] and got["ruser"] == 0
    assert got["fixed"] == (SLVERR, 7)
    assert bench.counts["bad_reads"] == 2 and bench.counts["bad_writes"] == 1 and bench.counts["egress_underflow"] == 0


def test_platform_is_checked():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)  # the refused component is never elaborated
        with pytest.raises(ValueError, match="platform"):
            PcisBridge(platform="f3")
        gc.collect()
