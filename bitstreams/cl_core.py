"""The Amaranth half of the F1 custom logic: the pipeline with its shell-facing buses.

`ClCore` takes the OCL AXI-Lite bus (BAR0, 32-bit addresses) to the pipeline's register block and the PCIS
AXI-4 bus (BAR4) to `hdl.pcis.PcisBridge`, whose word stream feeds the pipeline's `dma_in` and whose egress
FIFO takes its `events`; the bridge's FIFO levels go to the pipeline's `dma_status`. The SystemVerilog CL top
(`cl_top.py`) only renames ports to the shell's and ties off the rest.

BAR0 is 32 MiB and the register map 4 KiB: an address with any bit set above the map is passed on with its
low bit set, which the register block answers SLVERR (not word-aligned), so the map does not repeat across BAR0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from tickgate.hdl.csr import AxiLiteSignature
from tickgate.hdl.pcis import PcisBridge, PcisSignature

__all__ = ["OCL_ADDR_WIDTH", "ClCore", "connect_ocl"]

OCL_ADDR_WIDTH = 32  # the shell's sh_ocl_awaddr / araddr


class ClCore(wiring.Component):
    """`pipeline_factory()` (a component with `dma_in`, `events`, `csr`, `dma_status`) behind the F1 buses.

    Ports: `ocl` (In(AxiLiteSignature(32))), `pcis` (In(PcisSignature())), `pcis_counts` (the bridge's counter
    increments, see `hdl.pcis.PcisCounts`), and the domain's `clk` / `rst` (active high, synchronous).
    """

    def __init__(self, pipeline_factory: Callable[[], Any], *, ingress_depth: int = 512,
                 egress_depth: int = 512) -> None:
        self._pipeline = pipeline_factory()
        self._bridge = PcisBridge(ingress_depth=ingress_depth, egress_depth=egress_depth)
        for port in ("dma_in", "events", "csr", "dma_status"):
            if port not in self._pipeline.signature.members:
                raise TypeError(f"the pipeline has no `{port}` port (has {sorted(self._pipeline.signature.members)})")
        super().__init__({
            "ocl": In(AxiLiteSignature(OCL_ADDR_WIDTH)),
            "pcis": In(PcisSignature()),
            "pcis_counts": wiring.Out(self._bridge.counts.shape()),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.pipeline = pipeline = self._pipeline
        m.submodules.pcis = bridge = self._bridge
        wiring.connect(m, wiring.flipped(self.pcis), bridge.bus)
        wiring.connect(m, bridge.dma_in, pipeline.dma_in)
        wiring.connect(m, pipeline.events, bridge.events)
        m.d.comb += [
            pipeline.dma_status.events_ready.eq(bridge.events_ready),
            pipeline.dma_status.ingress_free.eq(bridge.ingress_free),
            self.pcis_counts.eq(bridge.counts),
        ]
        connect_ocl(m, self.ocl, pipeline.csr)
        return m


def connect_ocl(m: Module, ocl, csr) -> None:
    """The shell's OCL bus (`ocl`, 32-bit addresses) onto the register block's (`csr`); see the module docstring."""
    width = len(csr.awaddr)
    for name, member in AxiLiteSignature(width).members.items():
        ours, theirs = getattr(ocl, name), getattr(csr, name)
        if name in ("awaddr", "araddr"):
            outside = ours[width:].any()
            m.d.comb += theirs.eq(Mux(outside, ours[:width] | 1, ours[:width]))
        elif member.flow == wiring.Out:
            m.d.comb += theirs.eq(ours)
        else:
            m.d.comb += ours.eq(theirs)
