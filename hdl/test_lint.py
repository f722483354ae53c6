"""Every top-level component converts to Verilog with its ports, and `verilator --lint-only -Wall` is clean.

Clean means: nothing left once the project's documented waivers of what Amaranth's generator emits for any
design (`sim/amaranth.vlt`, and the alias wires it keeps for debugging) are applied.
"""

import sys

import pytest
from amaranth.back import verilog

from tickgate.hdl.csr import CsrBlock
from tickgate.hdl.decoder import ItchDecoder
from tickgate.hdl.ethernet import EthernetFrontEnd
from tickgate.hdl.network_decoder import NetworkDecoder
from tickgate.hdl.pipeline import Pipeline
from tickgate.protocol.config import BookGeometry, OrderTableConfig
from tickgate.protocol.registers import counter_names
from tickgate.sim import verilator
from tickgate.sim.waivers import alias_waivers

STREAM_PORTS = ("i__payload", "i__valid", "i__ready", "o__payload", "o__valid", "o__ready", "counters")
AXI_LITE_PORTS = ("bus__awaddr", "bus__wstrb", "bus__bresp", "bus__araddr", "bus__rdata", "counters")

TOPS = {
    "csr_block": (lambda: CsrBlock(counter_names()), ("status", "cfg", "clear"), AXI_LITE_PORTS),
    "ethernet_front_end": (EthernetFrontEnd, ("dst_ip", "dst_ip_check", "dst_port", "dst_port_check",
                                              "ignore_ip_checksum"), STREAM_PORTS),
    "itch_decoder": (ItchDecoder, ("cfg", "status"), STREAM_PORTS),
    "network_decoder": (NetworkDecoder, ("net", "cfg", "status"), STREAM_PORTS),
    # The pipeline in a small geometry, with a rule engine (the lint does not depend on the sizes).
    "pipeline": (lambda: Pipeline(BookGeometry(symbols=8, levels=4, names=2, order_table=OrderTableConfig(4, 2, 2)),
                                  input="dma", rules=4),
                 ("dma_status",), ("dma_in__payload", "events__payload", "csr__awaddr", "csr__rdata", "counters")),
}


@pytest.mark.parametrize("name", sorted(TOPS))
def test_converts_and_lints_clean(name, tmp_path, capsys):
    factory, ports, common = TOPS[name]
    text = verilog.convert(factory(), name=name)
    for port in (*common, *ports):
        assert f" {port};" in text, port
    path = tmp_path / f"{name}.v"
    path.write_text(text)
    path.with_suffix(".vlt").write_text(alias_waivers(text, path.name))
    unwaived = verilator.lint(path, name, waivers=[])
    assert not [m for m in unwaived if m.startswith("%Error")], unwaived[:5]
    assert verilator.lint(path, name) == []
    with capsys.disabled():
        print(f"\n  {name}: verilator --lint-only -Wall: {len(unwaived)} warnings from Amaranth's output without "
              f"waivers {verilator.warning_kinds(unwaived)}; none with them", file=sys.stderr)
