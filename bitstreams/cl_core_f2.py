"""The Amaranth half of the F2 custom logic: the pipeline between PCIS (packets in) and PCIM (events out).

`ClCoreF2` takes the OCL AXI-Lite bus (BAR0) to the pipeline's register block as on F1 (`cl_core.connect_ocl`),
the F2 PCIS bus (BAR4, `hdl.pcis.PcisBridge(platform="f2")`) to the pipeline's `dma_in`, and the pipeline's
events to `hdl.pcim.RingWriter`, which writes them into the host ring over the PCIM bus. The ring's registers
(`ring` port of a pipeline built with `ring=True`) drive the writer; its FIFO level shows in `events_ready`.
The SystemVerilog CL top (`cl_top_f2.py`) only renames ports to the F2 shell's and ties off the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tickgate.hdl.csr import AxiLiteSignature
from tickgate.hdl.pcim import RingCounts, RingWriter, pcim_signature
from tickgate.hdl.pcis import PcisBridge, PcisCounts, ShellAxiSignature

from .cl_core import OCL_ADDR_WIDTH, connect_ocl
from .configs import BitstreamConfig

__all__ = ["ClCoreF2", "f2_pipeline"]


def f2_pipeline(config: BitstreamConfig, *, standin: bool = False) -> Callable[[], Any]:
    """A factory of `config`'s pipeline (or the decoder-only stand-in) with the host-ring port F2 needs."""
    if standin:
        from .standin import StandinPipeline

        return lambda: StandinPipeline(max_length=config.max_length, ring=True)

    def pipeline() -> Any:
        from tickgate.hdl.pipeline import Pipeline

        return Pipeline(config.geometry(), input="dma", max_packet=config.max_length, ring=True,
                        rules=config.rules)

    return pipeline


class ClCoreF2(wiring.Component):
    """`pipeline_factory()` (with `dma_in`, `events`, `csr`, `dma_status`, `ring`) behind the F2 buses.

    Ports: `ocl` (In(AxiLiteSignature(32))), `pcis` (In, the F2 PCIS bus), `pcim` (Out(pcim_signature())),
    `pcis_counts` and `ring_counts` (counter increments, `hdl.pcis.PcisCounts` and `hdl.pcim.RingCounts`),
    `ring_producer` (the producer index last written to the head line), and the domain's `clk` / `rst`.
    """

    def __init__(self, pipeline_factory: Callable[[], Any], *, ingress_depth: int = 512,
                 egress_depth: int = 512) -> None:
        self._pipeline = pipeline_factory()
        for port in ("dma_in", "events", "csr", "dma_status", "ring"):
            if port not in self._pipeline.signature.members:
                raise TypeError(f"the pipeline has no `{port}` port (has {sorted(self._pipeline.signature.members)})")
        self._bridge = PcisBridge(ingress_depth=ingress_depth, egress_depth=egress_depth, platform="f2")
        self._writer = RingWriter(depth=egress_depth)
        super().__init__({
            "ocl": In(AxiLiteSignature(OCL_ADDR_WIDTH)),
            "pcis": In(ShellAxiSignature(16, platform="f2")),
            "pcim": Out(pcim_signature()),
            "pcis_counts": Out(PcisCounts),
            "ring_counts": Out(RingCounts),
            "ring_producer": Out(32),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.pipeline = pipeline = self._pipeline
        m.submodules.pcis = bridge = self._bridge
        m.submodules.ring = writer = self._writer
        wiring.connect(m, wiring.flipped(self.pcis), bridge.bus)
        wiring.connect(m, wiring.flipped(self.pcim), writer.bus)
        wiring.connect(m, bridge.dma_in, pipeline.dma_in)
        wiring.connect(m, pipeline.events, writer.events)
        wiring.connect(m, pipeline.ring, writer.control)
        m.d.comb += [
            pipeline.dma_status.events_ready.eq(writer.level),
            pipeline.dma_status.ingress_free.eq(bridge.ingress_free),
            self.pcis_counts.eq(bridge.counts),
            self.ring_counts.eq(writer.control.counts),
            self.ring_producer.eq(writer.control.producer),
        ]
        connect_ocl(m, self.ocl, pipeline.csr)
        return m
