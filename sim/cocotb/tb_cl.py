"""cocotb testbench of the F1 custom logic (`cl_tickgate` in the shell stand-in `tickgate_f1_shell`).

Drives the CL as the host does through the shell: registers over OCL AXI-Lite (cocotbext-axi `AxiLiteMaster`),
packets written as DMA batches into the ingress window and events read from the egress window over PCIS AXI-4
(`AxiMaster`), each write no longer than `ingress_free`, each read no more than `events_ready` events. Checks
the IDs, the register map's identity, the bus error answers and the DMA levels on the way; writes the events
(raw 64-byte records, in order) and the counters it read for the host to score against the model.

Options (plusargs or environment): TB_STIMULUS (DMA batches: 4-byte little-endian length, then the bytes),
TB_SETUP (JSON: "writes" [[offset, value], ...] done first, "events" expected, "counters" [names] to read,
"ingress_depth", "egress_depth"), TB_OUTPUT (JSON written; the events go to TB_OUTPUT + ".events").
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiMaster, AxiResp

from tickgate.hdl.pcis import PcisCounts
from tickgate.protocol.events import EVENT_SIZE
from tickgate.protocol.f1_map import EGRESS_BASE, EGRESS_SIZE, INGRESS_BASE, INGRESS_SIZE, cl_sh_id0, cl_sh_id1
from tickgate.protocol.registers import ID_MAGIC, MAP_VERSION, REGISTER_MAP
from tickgate.sim.cocotb import tb_option

READ_BURST = 64  # events per C2H read at most (4 KiB)
QUIET = 3000  # cycles without a new event, once every batch is in, that end the run


def read_batches(path: Path) -> list[bytes]:
    data, out, pos = path.read_bytes(), [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "little")
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


class Host:
    """The host's side of the CL: registers, DMA writes and reads, through the shell stand-in's buses."""

    def __init__(self, dut) -> None:
        self.dut = dut
        self.ocl = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "ocl"), dut.clk, dut.rst_n, reset_active_level=False)
        self.pcis = AxiMaster(AxiBus.from_prefix(dut, "pcis"), dut.clk, dut.rst_n, reset_active_level=False)
        for log in ("cocotb.tickgate_f1_shell.ocl", "cocotb.tickgate_f1_shell.pcis"):
            logging.getLogger(log).setLevel(logging.WARNING)

    async def reg(self, name: str) -> int:
        r = REGISTER_MAP[name]
        value = int.from_bytes((await self.ocl.read(r.offset, r.size)).data, "little")
        return value

    async def set_reg(self, offset: int, value: int) -> None:
        resp = await self.ocl.write(offset, value.to_bytes(4, "little"))
        assert resp.resp == AxiResp.OKAY, f"register write {offset:#x} answered {resp.resp!r}"


@cocotb.test()
async def cl_end_to_end(dut) -> None:
    """IDs and registers, DMA batches in, every event out, bus errors answered, counters read."""
    setup = json.loads(tb_option("TB_SETUP", "{}"))
    batches = read_batches(Path(tb_option("TB_STIMULUS")))
    out = Path(tb_option("TB_OUTPUT"))
    dut.rst_n.value = 0
    dut.flr.value = 0
    dut.pcis_awburst.value = 1
    dut.pcis_arburst.value = 1
    cocotb.start_soon(Clock(dut.clk, 4, unit="ns").start())  # 250 MHz, clock recipe A1
    host = Host(dut)
    await ClockCycles(dut.clk, 8)
    dut.rst_n.value = 1
    await ClockCycles(dut.clk, 4)

    # The shell sees the application's IDs; the register map says who it is.
    checks = {
        "id0": (int(dut.id0.value), cl_sh_id0()), "id1": (int(dut.id1.value), cl_sh_id1()),
        "status0": (int(dut.status0.value), ID_MAGIC), "status1": (int(dut.status1.value), MAP_VERSION),
        "id": (await host.reg("id"), ID_MAGIC), "map_version": (await host.reg("map_version"), MAP_VERSION),
        "ingress_free": (await host.reg("ingress_free"), 64 * setup["ingress_depth"]),
        "events_ready": (await host.reg("events_ready"), 0),
    }
    for name, (got, want) in checks.items():
        assert got == want, f"{name}: {got:#x}, expected {want:#x}"

    # Bus errors: an address above the register map, a write to the egress window, a read outside both.
    assert (await host.ocl.read(REGISTER_MAP.size, 4)).resp == AxiResp.SLVERR
    assert (await host.ocl.read(0x0100_0000 + REGISTER_MAP["id"].offset, 4)).resp == AxiResp.SLVERR
    assert (await host.pcis.write(EGRESS_BASE, bytes(64))).resp == AxiResp.SLVERR
    assert (await host.pcis.read(EGRESS_BASE + EGRESS_SIZE, 64)).resp == AxiResp.DECERR
    assert (await host.pcis.read(INGRESS_BASE, 64)).resp == AxiResp.SLVERR
    assert await host.reg("events_ready") == 0

    for offset, value in setup.get("writes", []):
        await host.set_reg(offset, value)

    events = bytearray()
    writer_done = False
    max_free = 0

    async def writer() -> None:
        nonlocal writer_done, max_free
        for n, batch in enumerate(batches):
            while (free := await host.reg("ingress_free")) < len(batch):
                await ClockCycles(dut.clk, 16)
            max_free = max(max_free, free)
            # anywhere in the window: it is a FIFO port
            addr = INGRESS_BASE + (n * 0x1000) % INGRESS_SIZE
            resp = await host.pcis.write(addr, batch)
            assert resp.resp == AxiResp.OKAY, f"batch {n}: {resp.resp!r}"
        writer_done = True

    cocotb.start_soon(writer())
    quiet, polls = 0, 0
    while not (writer_done and (len(events) // EVENT_SIZE >= setup["events"] or quiet >= QUIET)):
        ready = await host.reg("events_ready")
        polls += 1
        if ready:
            n = min(ready, READ_BURST)
            got = await host.pcis.read(EGRESS_BASE + (polls * 0x40) % EGRESS_SIZE, n * EVENT_SIZE)
            assert got.resp == AxiResp.OKAY
            events += got.data
            quiet = 0
        else:
            await ClockCycles(dut.clk, 32)
            quiet += 32 if writer_done else 0

    # Reading past events_ready returns zero records and lights the egress_underflow LED.
    await ClockCycles(dut.clk, 200)
    assert await host.reg("events_ready") == 0
    extra = await host.pcis.read(EGRESS_BASE, 2 * EVENT_SIZE)
    assert extra.resp == AxiResp.OKAY and extra.data == bytes(2 * EVENT_SIZE)
    await RisingEdge(dut.clk)
    flags = {name: int(dut.vled.value) >> bit & 1 for bit, name in enumerate(PcisCounts.members)}
    assert flags == {**dict.fromkeys(flags, 0), "egress_underflow": 1, "bad_writes": 1, "bad_reads": 1}, flags
    assert int(dut.not_incr.value) == 0

    counters = {}
    for name in setup.get("counters", []):
        counters[name] = await host.reg(name)
    out.with_name(out.name + ".events").write_bytes(bytes(events))
    out.write_text(json.dumps({"events": len(events) // EVENT_SIZE, "counters": counters, "polls": polls,
                               "max_free": max_free, "ingress_free_end": await host.reg("ingress_free"),
                               "vled": int(dut.vled.value)}))
