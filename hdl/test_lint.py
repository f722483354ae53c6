"""Every top-level component converts to Verilog with its ports, and `verilator --lint-only -Wall` is clean.

Clean means: nothing left once the project's documented waivers of what Amaranth's generator emits for any
design (`sim/amaranth.vlt`, and the alias wires it keeps for debugging) are applied.
"""

import sys

import pytest
from amaranth.back import verilog

from tickgate.hdl.decoder import ItchDecoder
from tickgate.hdl.ethernet import EthernetFrontEnd
from tickgate.hdl.network_decoder import NetworkDecoder
from tickgate.sim import verilator
from tickgate.sim.waivers import alias_waivers

STREAM_PORTS = ("i__payload", "i__valid", "i__ready", "o__payload", "o__valid", "o__ready", "counters")

TOPS = {
    "ethernet_front_end": (EthernetFrontEnd, ("dst_ip", "dst_ip_check", "dst_port", "dst_port_check",
                                              "ignore_ip_checksum")),
    "itch_decoder": (ItchDecoder, ("cfg", "status")),
    "network_decoder": (NetworkDecoder, ("net", "cfg", "status")),
}


@pytest.mark.parametrize("name", sorted(TOPS))
def test_converts_and_lints_clean(name, tmp_path, capsys):
    factory, ports = TOPS[name]
    text = verilog.convert(factory(), name=name)
    for port in (*STREAM_PORTS, *ports):
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
