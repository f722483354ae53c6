"""sim_top.v against the pipeline's ports: the widths it is built with, and a clear error when they differ."""

from __future__ import annotations

import pytest

from tickgate.sim.results import BuildFailed
from tickgate.sim.verilated.build import top_parameters

_PORTS = {  # the pipeline's ports (input "dma") as Yosys writes them, with the widths of the default build
    "clk": "input", "rst": "input", "dma_status": "input [63:0]", "dma_in__payload": "input [63:0]",
    "dma_in__valid": "input", "dma_in__ready": "output", "events__payload": "output [511:0]",
    "events__valid": "output", "events__ready": "input", "counters": "output [4159:0]",
    "csr__awaddr": "input [11:0]", "csr__awvalid": "input", "csr__awready": "output", "csr__wdata": "input [31:0]",
    "csr__wstrb": "input [3:0]", "csr__wvalid": "input", "csr__wready": "output", "csr__bresp": "output [1:0]",
    "csr__bvalid": "output", "csr__bready": "input", "csr__araddr": "input [11:0]", "csr__arvalid": "input",
    "csr__arready": "output", "csr__rdata": "output [31:0]", "csr__rresp": "output [1:0]", "csr__rvalid": "output",
    "csr__rready": "input",
}


def _verilog(ports: dict[str, str]) -> str:
    decls = "".join(f"  {kind} {name};\n" for name, kind in ports.items())
    return (f"module \\tickgate_pipeline.csr (clk);\n  input clk;\nendmodule\n"
            f"module tickgate_pipeline({', '.join(ports)});\n{decls}endmodule\n")


def test_parameters_are_the_port_widths() -> None:
    ports = {**_PORTS, "counters": "output [639:0]"}
    assert top_parameters(_verilog(ports)) == {"COUNTERS": 640, "ADDR": 12, "STATUS": 64}


def test_a_port_sim_top_does_not_connect_is_an_error() -> None:
    with pytest.raises(BuildFailed, match=r"leaves \['extra'\] open"):
        top_parameters(_verilog({**_PORTS, "extra": "input"}))
    missing = dict(_PORTS)
    del missing["dma_status"]
    with pytest.raises(BuildFailed, match=r"connects \['dma_status'\] that tickgate_pipeline lacks"):
        top_parameters(_verilog(missing))
