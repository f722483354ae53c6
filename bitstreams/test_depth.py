"""The level count of `bitstreams.depth` on hand-made netlists (pure Python), and on one tiny synthesis."""

import pytest

from tickgate.bitstreams.depth import BRAM_UNREGISTERED, Hierarchy, deepest_paths, hierarchy, module_ports


class _Net:
    """A Yosys JSON module built by hand: cells of Xilinx types, bits numbered from 2."""

    def __init__(self) -> None:
        self.cells: dict = {}
        self.netnames: dict = {}
        self.ports: dict = {}
        self.next = 2

    def bit(self, name: str | None = None) -> int:
        b, self.next = self.next, self.next + 1
        if name:
            self.netnames[name] = {"hide_name": 0, "bits": [b]}
        return b

    def cell(self, kind: str, name: str | None = None, params: dict | None = None, **pins) -> None:
        directions = {p: ("output" if p in ("O", "Q", "CO", "DOUTBDOUT", "DOUTADOUT", "DOUT_A", "SPO", "DPO")
                          else "input") for p in pins}
        self.cells[name or f"$c{len(self.cells)}"] = {
            "type": kind, "parameters": params or {}, "port_directions": directions,
            "connections": {p: (v if isinstance(v, list) else [v]) for p, v in pins.items()}}

    def ff(self, q: int, d: int) -> None:
        self.cell("FDRE", Q=q, D=d, C=0, CE="1", R="0")

    def port(self, name: str, direction: str, bit: int) -> None:
        self.ports[name] = {"direction": direction, "bits": [bit]}

    def module(self) -> dict:
        return {"cells": self.cells, "netnames": self.netnames, "ports": self.ports}


def test_luts_between_registers():
    n = _Net()
    a, b = n.bit("a"), n.bit("b")
    x, y, z = n.bit(), n.bit(), n.bit()
    n.cell("LUT2", I0=a, I1=b, O=x)
    n.cell("LUT6", I0=x, I1=a, I2="0", I3="0", I4="0", I5="0", O=y)
    n.cell("MUXF7", I0=y, I1=x, S=b, O=z)
    n.ff(a, z)
    n.ff(b, x)
    path = deepest_paths(n.module())[""]
    assert (path.levels, path.start, path.end, path.cells) == (3, "a", "a D", ("LUT2", "LUT6", "MUXF7"))


def test_scopeinfo_cells_of_newer_yosys_are_not_logic():
    n = _Net()
    a, x = n.bit("a"), n.bit()
    n.cell("LUT1", I0=a, O=x)
    n.ff(a, x)
    n.cells["scope"] = {"type": "$scopeinfo", "parameters": {}, "port_directions": {}, "connections": {}}
    assert deepest_paths(n.module())[""].levels == 1
    n.cells["odd"] = {"type": "$odd", "parameters": {}, "port_directions": {}, "connections": {}}
    with pytest.raises(ValueError, match=r"no level count for cell types \$odd"):
        deepest_paths(n.module())


def test_inverters_are_free_and_ports_start_and_end_paths():
    n = _Net()
    i, o, x = n.bit("i"), n.bit("o"), n.bit()
    n.port("i", "input", i)
    n.port("o", "output", o)
    n.cell("INV", I=i, O=x)
    n.cell("LUT1", I0=x, O=o)
    path = deepest_paths(n.module())[""]
    assert (path.levels, path.start, path.end) == (1, "i", "o")


def _chain(n: _Net, kind: str, cells: int, width: int) -> tuple[int, int]:
    """A carry chain of `cells` cells fed by one LUT from register `r`; returns (r, the last CO bit)."""
    r = n.bit("r")
    s = n.bit()
    n.cell("LUT1", I0=r, O=s)
    ci = "0"
    for _ in range(cells):
        co = [n.bit() for _ in range(width)]
        n.cell(kind, CI=ci, S=[s] + ["0"] * (width - 1), DI=["0"] * width, CO=co, O=[n.bit() for _ in range(width)])
        ci = co[-1]
    return r, ci


@pytest.mark.parametrize(("kind", "width", "cells", "levels"), [
    ("CARRY4", 4, 1, 2),  # the LUT, then entering the chain
    ("CARRY4", 4, 9, 3),  # + 32 bits rippled: one more level
    ("CARRY4", 4, 16, 4),  # a 64-bit add: 60 bits rippled, 1 + 1 + 1.875, rounded up
    ("CARRY8", 8, 5, 3),  # 32 bits rippled through 4 CARRY8
    ("CARRY8", 8, 8, 4),
])
def test_carry_chain_levels(kind, width, cells, levels):
    n = _Net()
    r, co = _chain(n, kind, cells, width)
    q = n.bit("q")
    n.ff(q, co)
    n.ff(r, q)
    path = deepest_paths(n.module())[""]
    assert (path.levels, path.start, path.end) == (levels, "r", "q D")
    assert path.as_dict()["cells"] == f"LUT1 {kind}" + (f"x{cells}" if cells > 1 else "")


def test_block_ram_read_counts_its_output_register():
    for reg, levels in ((0, BRAM_UNREGISTERED + 1), (1, 1)):
        n = _Net()
        addr, data, x = n.bit("addr"), n.bit(), n.bit("x")
        n.cell("RAMB36E2", "mem.0.0", {"DOB_REG": f"{reg:032b}"}, ADDRBWRADDR=addr, DOUTBDOUT=data, CLKBWRCLK=0)
        y = n.bit()
        n.cell("LUT1", I0=data, O=y)
        n.ff(x, y)
        n.ff(addr, x)
        path = deepest_paths(n.module())[""]
        assert path.levels == levels
        assert path.start == "mem.0.0.DOUTBDOUT (RAMB36E2)" and path.end == "x D"


def test_lut_ram_read_is_one_level_after_its_address():
    n = _Net()
    a, d, x = n.bit("a"), n.bit(), n.bit("x")
    n.cell("RAM64X1D", "ram", DPRA0=a, DPO=d, D=x, WE="1", A0=a, WCLK=0)
    n.ff(x, d)
    path = deepest_paths(n.module())[""]
    assert (path.levels, path.start, path.end) == (1, "a", "x D")


def test_names_prefer_a_modules_own_signal_and_scopes_take_their_own_ends():
    ports = Hierarchy({"": {}, "eng": {"i": "input", "o": "output"}, "eng.sub": {"i": "input"}})
    n = _Net()
    q = n.bit("eng.state")
    n.netnames["eng.o"] = {"hide_name": 0, "bits": [q]}
    n.netnames["eng.sub.i"] = {"hide_name": 0, "bits": [q]}
    n.netnames["$auto$x"] = {"hide_name": 1, "bits": [q]}
    y, z = n.bit(), n.bit("eng.sub.count")
    n.cell("LUT1", I0=q, O=y)
    n.ff(q, y)
    w = n.bit()
    n.cell("LUT1", I0=y, O=w)
    n.ff(z, w)
    paths = deepest_paths(n.module(), ports)
    assert paths["eng"].start == "eng.state" and paths["eng"].levels == 1
    assert paths["eng.sub"].end == "eng.sub.count D" and paths["eng.sub"].levels == 2
    assert paths[""] == paths["eng.sub"]


def test_loops_and_unknown_cells_are_errors():
    n = _Net()
    a, b = n.bit("a"), n.bit("b")
    n.cell("LUT1", I0=a, O=b)
    n.cell("LUT1", I0=b, O=a)
    c = n.bit("c")
    n.ff(c, a)
    with pytest.raises(ValueError, match="combinational loop"):
        deepest_paths(n.module())
    n.cell("GTYE4_CHANNEL", O=n.bit())
    with pytest.raises(ValueError, match="no level count for cell types GTYE4_CHANNEL"):
        deepest_paths(n.module())


def test_registers_are_placed_where_their_value_is_made_whatever_the_name_order():
    # A counter bank's register: an output port of `dec.counters`, a wire of `dec` and of the top, an input
    # port of `csr` (deeper ports that only carry it in do not make it); `a.x`/`b.x` as deep: the first by name.
    ports = Hierarchy({"": {}, "dec": {}, "dec.counters": {"count": "output"}, "csr": {"counters": "input"},
                       "a": {}, "b": {}, "a.x": {"o": "output"}, "b.x": {"o": "output"}})
    names = {"count": "dec.counters.count", "top": "count_wire", "dec": "dec.count", "csr": "csr.counters",
             "bx": "b.x.o", "ax": "a.x.o"}
    homes = set()
    for order in (list(names), list(reversed(names))):
        n = _Net()
        q, d = n.bit(), n.bit()
        n.cell("LUT1", I0=q, O=d)
        n.ff(q, d)
        r, e = n.bit(), n.bit()
        n.cell("LUT1", I0=r, O=e)
        n.ff(r, e)
        for key in order:
            n.netnames[names[key]] = {"hide_name": 0, "bits": [r if key in ("ax", "bx") else q]}
        paths = deepest_paths(n.module(), ports)
        homes.add(tuple(sorted((scope, p.end) for scope, p in paths.items() if scope)))
    assert homes == {(("a.x", "a.x.o D"), ("dec.counters", "dec.counters.count D"))}


def test_hierarchy_of_amaranth_verilog():
    text = "\n".join([
        "module top(a, b);", "  input [3:0] a;", "  output b;", "  reg b = 1'h0;",
        '  (* src = "p.py:7" *)', "  \\top.eng  eng (", "    .clk(clk)", "  );", "endmodule",
        "module \\top.eng (clk, \\o$3 );", "  input clk;", "  output [7:0] \\o$3 ;", "endmodule",
    ])
    assert module_ports(text) == {"top": {"a": "input", "b": "output"}, "top.eng": {"clk": "input", "o$3": "output"}}
    h = hierarchy(text, "top")
    assert h.ports == {"": {"a": "input", "b": "output"}, "eng": {"clk": "input", "o$3": "output"}}
