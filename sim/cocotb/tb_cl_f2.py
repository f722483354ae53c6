"""cocotb testbench of the F2 custom logic (`cl_tickgate` in the shell stand-in `tickgate_f2_shell`).

Plays the host as on an F2 instance: registers over OCL AXI-Lite (cocotbext-axi `AxiLiteMaster`), DMA-framed
packets stored into the ingress window over PCIS (`AxiMaster`, 16-bit IDs, never more than `ingress_free`),
and host memory on PCIM (`AxiRam`): it sets the event ring up through its registers, polls the head line in
memory, reads the records it announces and stores its consumer index in `ring_consumer`.

Phases (`TB_STIMULUS`: records of a phase byte, a 4-byte little-endian length, the DMA batch):
- 0 "paced": one packet a batch, each sent once the previous one's events are in, for the latency figure:
  the cycle of the packet's last PCIS W beat to the cycle of its first record's PCIM W beat;
- 1 "bulk": batches as fast as `ingress_free` allows, with a consumer that stalls now and then, so the ring
  (64 records) fills, the writer holds (`ring_full`) and the pipeline backs up to the ingress buffer;
- 2 "after reset": the host resets the ring (ENABLE | RESET), sees a head line of 0, and reads on from record 0.

TB_SETUP (JSON): "writes" [[offset, value], ...], "paced_events" [events of each paced packet], "events" (all),
"counters" [names], "ingress_depth", "size_log2", "stall" [every, cycles]. TB_OUTPUT: JSON written; the
records read (raw, in order) go to TB_OUTPUT + ".events".
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiMaster, AxiRam, AxiResp

from tickgate.protocol.events import EVENT_SIZE
from tickgate.protocol.f1_map import EGRESS_BASE, INGRESS_BASE, INGRESS_SIZE
from tickgate.protocol.f2_map import HEAD_PRODUCER_OFFSET, RING_ALIGN, RingControl, cl_sh_id0, cl_sh_id1
from tickgate.protocol.registers import ID_MAGIC, MAP_VERSION, REGISTER_MAP
from tickgate.sim.cocotb import tb_option

RING_BASE = 0x0000_0004_2000_3000  # host bus addresses above 4 GiB: the _hi registers matter
HEAD_ADDR = 0x0000_0004_2100_0040
HOST_MEMORY = 1 << 40  # sparse: what the host addresses above must fall in
PCIS_ID = 0x20  # what the F2 shell's PCIS uses for host stores
POLL = 24  # cycles between head-line polls
LIMIT = 3_000_000  # cycles
QUIET = 20_000  # cycles without a new record, while records are due, that fail the run


def read_phases(path: Path) -> dict[int, list[bytes]]:
    data, out, pos = path.read_bytes(), {0: [], 1: [], 2: []}, 0
    while pos < len(data):
        phase, n = data[pos], int.from_bytes(data[pos + 1:pos + 5], "little")
        out[phase].append(data[pos + 5:pos + 5 + n])
        pos += 5 + n
    return out


class Host:
    """The host's side of the F2 CL: registers, stores into PCIS, and the event ring in its memory."""

    def __init__(self, dut, size_log2: int) -> None:
        self.dut = dut
        self.ocl = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "ocl"), dut.clk, dut.rst_n, reset_active_level=False)
        self.pcis = AxiMaster(AxiBus.from_prefix(dut, "pcis"), dut.clk, dut.rst_n, reset_active_level=False)
        self.ram = AxiRam(AxiBus.from_prefix(dut, "pcim"), dut.clk, dut.rst_n, reset_active_level=False,
                          size=HOST_MEMORY)
        for log in ("ocl", "pcis", "pcim"):
            logging.getLogger(f"cocotb.tickgate_f2_shell.{log}").setLevel(logging.WARNING)
        self.records = 1 << size_log2
        self.consumer = 0
        self.events = bytearray()
        self.cycle = 0
        self.pcis_last: list[int] = []  # cycles of PCIS W beats with WLAST
        self.ring_beats: list[int] = []  # cycle of each record's PCIM W beat, in order since the last ring reset
        self.max_outstanding = 0

    async def reg(self, name: str) -> int:
        r = REGISTER_MAP[name]
        return int.from_bytes((await self.ocl.read(r.offset, r.size)).data, "little")

    async def set_reg(self, name_or_offset: str | int, value: int) -> None:
        offset = REGISTER_MAP[name_or_offset].offset if isinstance(name_or_offset, str) else name_or_offset
        resp = await self.ocl.write(offset, value.to_bytes(4, "little"))
        assert resp.resp == AxiResp.OKAY, f"register write {offset:#x} answered {resp.resp!r}"

    async def watch(self) -> None:
        """Every cycle: PCIS last beats; PCIM bursts checked (64-byte INCR, no 4 KiB crossing, <= 32 awaiting B)
        and each ring beat's cycle noted."""
        dut = self.dut
        bursts: list[list[int]] = []  # [address, beats left]
        outstanding = 0
        while True:
            await RisingEdge(dut.clk)
            self.cycle += 1
            assert self.cycle < LIMIT, "testbench ran past its cycle limit"
            if self.cycle % 10_000 == 0:
                dut._log.info(f"cycle {self.cycle}: {len(self.events) // EVENT_SIZE} records read")
            if dut.pcis_wvalid.value and dut.pcis_wready.value and dut.pcis_wlast.value:
                self.pcis_last.append(self.cycle)
            if dut.pcim_awvalid.value and dut.pcim_awready.value:
                addr, beats = int(dut.pcim_awaddr.value), int(dut.pcim_awlen.value) + 1
                assert int(dut.pcim_awsize.value) == 6 and int(dut.pcim_awburst.value) == 1
                assert addr // RING_ALIGN == (addr + 64 * beats - 1) // RING_ALIGN, f"burst across 4 KiB at {addr:#x}"
                bursts.append([addr, beats])
                outstanding += 1
            if dut.pcim_bvalid.value and dut.pcim_bready.value:
                assert int(dut.pcim_bresp.value) == 0
                outstanding -= 1
            self.max_outstanding = max(self.max_outstanding, outstanding)
            if dut.pcim_wvalid.value and dut.pcim_wready.value:
                addr, left = bursts[0]
                if addr != HEAD_ADDR:
                    self.ring_beats.append(self.cycle)
                bursts[0] = [addr + 64, left - 1]
                if left == 1:
                    bursts.pop(0)

    def producer(self) -> int:
        return int.from_bytes(self.ram.read(HEAD_ADDR + HEAD_PRODUCER_OFFSET, 4), "little")

    async def consume(self) -> int:
        """Read what the head line announces; store the consumer index. Returns records read."""
        producer = self.producer()
        n = (producer - self.consumer) & 0xFFFF_FFFF
        assert n <= self.records, f"head line {producer} is more than a ring past consumer {self.consumer}"
        for i in range(self.consumer, self.consumer + n):
            self.events += self.ram.read(RING_BASE + EVENT_SIZE * (i % self.records), EVENT_SIZE)
        if n:
            self.consumer = (self.consumer + n) & 0xFFFF_FFFF
            await self.set_reg("ring_consumer", self.consumer)
        return n

    async def wait_events(self, n: int, what: str, stall: tuple[int, int] | None = None) -> int:
        """Consume until `n` records are in (stalling `stall[1]` cycles after each `stall[0]` records); fails after
        QUIET cycles without one. Returns the smallest `ingress_free` seen after a stall."""
        quiet, since_stall, min_free = 0, 0, 1 << 32
        while len(self.events) // EVENT_SIZE < n:
            await ClockCycles(self.dut.clk, POLL)
            got = await self.consume()
            quiet = 0 if got else quiet + POLL
            if quiet >= QUIET:
                state = {name: await self.reg(name) for name in ("ring_producer", "ring_consumer", "events_ready",
                                                                 "ingress_free", "ring_full", "events", "messages")}
                raise AssertionError(f"{what}: {len(self.events) // EVENT_SIZE} records of {n} after {QUIET} quiet "
                                     f"cycles; head line {self.producer()}, consumer {self.consumer}, {state}")
            since_stall += got
            if stall is not None and since_stall >= stall[0]:
                since_stall = 0
                await ClockCycles(self.dut.clk, stall[1])
                min_free = min(min_free, await self.reg("ingress_free"))
        self.dut._log.info(f"{what}: {n} records in at cycle {self.cycle}")
        return min_free

    async def ring_reset(self) -> None:
        """ENABLE | RESET, then wait for the head line of 0 (the line is painted first so the write shows)."""
        self.ram.write(HEAD_ADDR, b"\xff" * 64)
        await self.set_reg("ring_control", RingControl.ENABLE | RingControl.RESET)
        for _ in range(QUIET // POLL):
            if bytes(self.ram.read(HEAD_ADDR, 64)) == bytes(64):
                break
            await ClockCycles(self.dut.clk, POLL)
        else:
            state = {name: await self.reg(name) for name in ("ring_control", "ring_producer", "ring_consumer",
                                                             "events_ready", "ring_full", "pcim_errors")}
            raise AssertionError(f"no head line of 0 {QUIET} cycles after a ring reset: "
                                 f"{bytes(self.ram.read(HEAD_ADDR, 8)).hex()}, {state}")
        self.consumer = 0
        self.ring_beats.clear()

    async def store(self, batch: bytes, n: int) -> None:
        """One DMA batch into the ingress window once `ingress_free` has room for it."""
        for _ in range(QUIET // 16):
            if await self.reg("ingress_free") >= len(batch):
                break
            await ClockCycles(self.dut.clk, 16)
        else:
            raise AssertionError(f"batch {n}: ingress_free below {len(batch)} for {QUIET} cycles")
        addr = INGRESS_BASE + (n * 0x1000) % INGRESS_SIZE  # anywhere in the window: it is a FIFO port
        resp = await self.pcis.write(addr, batch, awid=PCIS_ID)
        assert resp.resp == AxiResp.OKAY, f"batch {n}: {resp.resp!r}"


@cocotb.test()
async def cl_f2_end_to_end(dut) -> None:
    """IDs and registers; the ring set up; paced packets (latency), bulk with a stalling host, a ring reset."""
    setup = json.loads(tb_option("TB_SETUP", "{}"))
    phases = read_phases(Path(tb_option("TB_STIMULUS")))
    out = Path(tb_option("TB_OUTPUT"))
    dut.rst_n.value = 0
    dut.flr.value = 0
    cocotb.start_soon(Clock(dut.clk, 4, unit="ns").start())  # clk_main_a0: 250 MHz
    host = Host(dut, setup["size_log2"])
    await ClockCycles(dut.clk, 8)
    dut.rst_n.value = 1
    await ClockCycles(dut.clk, 4)
    cocotb.start_soon(host.watch())

    checks = {
        "id0": (int(dut.id0.value), cl_sh_id0()), "id1": (int(dut.id1.value), cl_sh_id1()),
        "status0": (int(dut.status0.value), ID_MAGIC), "status1": (int(dut.status1.value), MAP_VERSION),
        "id": (await host.reg("id"), ID_MAGIC), "map_version": (await host.reg("map_version"), MAP_VERSION),
        "ingress_free": (await host.reg("ingress_free"), 64 * setup["ingress_depth"]),
        "ring_control": (await host.reg("ring_control"), 0), "ring_producer": (await host.reg("ring_producer"), 0),
    }
    for name, (got, want) in checks.items():
        assert got == want, f"{name}: {got:#x}, expected {want:#x}"
    # F2 has no egress window: a read answers SLVERR at once; above the register map, SLVERR too.
    assert (await host.pcis.read(EGRESS_BASE, 128, arid=PCIS_ID)).resp == AxiResp.SLVERR
    assert (await host.ocl.read(REGISTER_MAP.size, 4)).resp == AxiResp.SLVERR

    for offset, value in setup["writes"]:
        await host.set_reg(offset, value)
    for name, value in (("ring_base_lo", RING_BASE & 0xFFFF_FFFF), ("ring_base_hi", RING_BASE >> 32),
                        ("ring_head_lo", HEAD_ADDR & 0xFFFF_FFFF), ("ring_head_hi", HEAD_ADDR >> 32),
                        ("ring_size_log2", setup["size_log2"])):
        await host.set_reg(name, value)
    await host.ring_reset()

    # Paced: one packet at a time, for the latency of its first event.
    latencies, expected = [], 0
    for n, (batch, events) in enumerate(zip(phases[0], setup["paced_events"], strict=True)):
        first = expected
        await host.store(batch, n)
        last_beat = host.pcis_last[-1]
        expected += events
        await host.wait_events(expected, f"paced packet {n}")
        if events:
            latencies.append((n, host.ring_beats[first] - last_beat))

    # Bulk: the writer as fast as the ingress buffer takes it, the host stalling every so often.
    done = set()

    async def writer(phase: int) -> None:
        for n, batch in enumerate(phases[phase]):
            await host.store(batch, n)
        done.add(phase)

    cocotb.start_soon(writer(1))
    min_free = await host.wait_events(expected + setup["bulk_events"], "bulk", stall=tuple(setup["stall"]))
    assert 1 in done
    ring_full_bulk = await host.reg("ring_full")
    producer_before_reset = await host.reg("ring_producer")

    # A ring reset, then the rest of the feed from record 0.
    dut._log.info(f"ring reset at cycle {host.cycle}: ring_full {ring_full_bulk}, producer {producer_before_reset}")
    await host.ring_reset()
    dut._log.info(f"ring reset done at cycle {host.cycle}")
    assert await host.reg("ring_consumer") == 0 and await host.reg("ring_producer") == 0
    cocotb.start_soon(writer(2))
    await host.wait_events(setup["events"], "after the reset")
    assert 2 in done
    await ClockCycles(dut.clk, 400)
    assert await host.consume() == 0, "more records than the model's events"

    counters = {name: await host.reg(name) for name in setup["counters"]}
    await RisingEdge(dut.clk)
    out.with_name(out.name + ".events").write_bytes(bytes(host.events))
    out.write_text(json.dumps({
        "events": len(host.events) // EVENT_SIZE, "counters": counters, "latencies": latencies,
        "ring_full_bulk": ring_full_bulk, "producer_before_reset": producer_before_reset,
        "producer_end": await host.reg("ring_producer"), "status2": int(dut.status2.value),
        "min_ingress_free": min_free, "ingress_free_end": await host.reg("ingress_free"),
        "max_outstanding": host.max_outstanding, "vled": int(dut.vled.value), "cycles": host.cycle,
    }))
