"""A small AXI4-Lite manager for testbenches: one write or read at a time on a `bus__*` port group."""

from __future__ import annotations

from typing import Any

from cocotb.triggers import ReadOnly

from tickgate.sim.cocotb.clocking import Clocking

__all__ = ["AxiLiteManager"]


class AxiLiteManager:
    """Writes and reads 32-bit registers through the DUT's AXI-Lite port `prefix` (e.g. "csr")."""

    def __init__(self, dut: Any, prefix: str, clock: Clocking, limit: int = 64) -> None:
        self.s = {n: getattr(dut, f"{prefix}__{n}") for n in (
            "awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp", "bvalid", "bready",
            "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid", "rready")}
        self.clock, self.limit = clock, limit
        for n in ("awvalid", "wvalid", "bready", "arvalid", "rready"):
            self.s[n].value = 0

    async def write(self, addr: int, value: int) -> int:
        """Write one register; returns BRESP."""
        s = self.s
        await self.clock.rising
        s["awaddr"].value, s["awvalid"].value = addr, 1
        s["wdata"].value, s["wstrb"].value, s["wvalid"].value = value, 0xF, 1
        s["bready"].value = 1
        aw = w = False
        for _ in range(self.limit):
            await ReadOnly()
            aw, w = aw or bool(s["awready"].value), w or bool(s["wready"].value)
            b, resp = bool(s["bvalid"].value), int(s["bresp"].value)
            await self.clock.rising
            if aw:
                s["awvalid"].value = 0
            if w:
                s["wvalid"].value = 0
            if b:
                s["bready"].value = 0
                return resp
        raise TimeoutError(f"AXI-Lite write of {addr:#x} not answered in {self.limit} cycles")

    async def read(self, addr: int) -> int:
        """Read one register."""
        s = self.s
        await self.clock.rising
        s["araddr"].value, s["arvalid"].value, s["rready"].value = addr, 1, 1
        ar = False
        for _ in range(self.limit):
            await ReadOnly()
            ar = ar or bool(s["arready"].value)
            r, data = bool(s["rvalid"].value), int(s["rdata"].value)
            await self.clock.rising
            if ar:
                s["arvalid"].value = 0
            if r:
                s["rready"].value = 0
                return data
        raise TimeoutError(f"AXI-Lite read of {addr:#x} not answered in {self.limit} cycles")
