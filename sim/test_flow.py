"""The simulation flow end to end on a small PacketBeat skid buffer: Verilog, lint, cached Verilator build,
cocotb testbench with random gaps and back-pressure, waveforms, and failures that say what failed."""

# No `from __future__ import annotations` here: Amaranth reads component signatures from annotations.
import json
import re
from pathlib import Path

import pytest
from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.hdl.layouts import PacketBeat
from tickgate.sim import toolchain, verilator
from tickgate.sim.build import cocotb_build, cocotb_test, generate_verilog
from tickgate.sim.results import SimulationFailed

TB = "tickgate.sim.cocotb.tb_passthrough"


class SkidBuffer(wiring.Component):
    """Registered PacketBeat pass-through: `i.ready` is a register, a skid register catches the beat that
    arrives while the output is stalled. One beat a cycle, one cycle of latency."""

    i: In(stream.Signature(PacketBeat))
    o: Out(stream.Signature(PacketBeat))

    def __init__(self, note: str = "") -> None:  # `note`: a config value that changes nothing but the key
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        held = Signal(PacketBeat)
        held_valid = Signal()
        m.d.comb += self.i.ready.eq(~held_valid)
        with m.If(~self.o.valid | self.o.ready):
            m.d.sync += [self.o.valid.eq(held_valid | self.i.valid), held_valid.eq(0)]
            with m.If(held_valid):
                m.d.sync += self.o.payload.eq(held)
            with m.Else():
                m.d.sync += self.o.payload.eq(self.i.payload)
        with m.Elif(self.i.valid & self.i.ready):
            m.d.sync += [held.eq(self.i.payload), held_valid.eq(1)]
        return m


@pytest.fixture(scope="module")
def verilog() -> Path:
    return generate_verilog(SkidBuffer, "skid", {})


def test_struct_payload_is_one_flat_port(verilog: Path) -> None:
    text = verilog.read_text()
    header = re.search(r"^module skid\((.*?)\);", text, re.M | re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted(
        ["clk", "rst", "i__payload", "i__valid", "i__ready", "o__payload", "o__valid", "o__ready"])
    assert re.search(r"^\s*input \[68:0\] i__payload;", text, re.M)
    assert re.search(r"^\s*wire \[3:0\] \\i__payload\.nbytes ;", text, re.M)  # fields: internal views
    assert "assign \\i__payload.nbytes  = i__payload[67:64];" in text


def test_verilog_folder_is_keyed_by_config_and_design(verilog: Path) -> None:
    assert generate_verilog(SkidBuffer, "skid", {}) == verilog
    assert generate_verilog(SkidBuffer, "skid", {"note": "x"}).parent != verilog.parent
    assert generate_verilog(SkidBuffer, "skid2", {}).parent != verilog.parent
    assert verilog.parent.name.startswith("skid-") and len(verilog.parent.name) == len("skid-") + 12


def test_lint_clean(verilog: Path) -> None:
    assert verilator.lint(verilog, "skid") == []


def test_second_build_is_cached(verilog: Path) -> None:
    first = cocotb_build(verilog)
    objects = {p: p.stat().st_mtime_ns for p in first.directory.glob("*.o")}
    assert first.executable.is_file() and len(objects) >= 5
    assert first.warnings == []
    again = cocotb_build(verilog)
    assert again.cached and again.directory == first.directory
    assert {p: p.stat().st_mtime_ns for p in first.directory.glob("*.o")} == objects
    assert cocotb_build(verilog, waves="vcd").directory != first.directory  # tracing: its own build


def test_random_packets_come_out_in_order(verilog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TB_PACKETS", "5")  # cocotb_test's env takes precedence over the process environment
    result = tmp_path / "stats.json"
    run = cocotb_test(cocotb_build(verilog), TB, workdir=tmp_path / "run", seed=7,
                      env={"TB_RESULT": str(result), "TB_PACKETS": "60"}, plusargs=["+TB_IDLE=0.4"])
    assert {t.name: t.status for t in run.tests} == {
        "random_packets": "passed", "full_rate": "passed", "hang": "skipped"}
    stats = json.loads(result.read_text())
    random_run, full = stats["random_packets"], stats["full_rate"]
    assert random_run["beats"] == full["beats"] > 60
    assert random_run["latency_max"] > random_run["latency_min"] == 1  # back-pressure held beats back
    assert 0.2 < random_run["beats_per_cycle"] < 0.8
    assert full["latency_min"] == full["latency_max"] == 1
    assert full["beats_per_cycle"] > 0.98 and full["output_rate"] == 1.0
    assert random_run["options"] == {"seed": 1, "packets": 60, "idle": 0.4, "stall": 0.3}  # env and plusarg


def test_watchdog_fails_a_hanging_test(verilog: Path, tmp_path: Path) -> None:
    with pytest.raises(SimulationFailed, match=r"1 of 1 cocotb tests failed(.|\n)*hang: failed: .*watchdog"):
        cocotb_test(cocotb_build(verilog), TB, testcase="hang", env={"TB_HANG": "1"}, workdir=tmp_path)


def test_missing_testbench_is_reported(verilog: Path, tmp_path: Path) -> None:
    with pytest.raises(SimulationFailed, match=r"wrote no results(.|\n)*no_such_tb"):
        cocotb_test(cocotb_build(verilog), "tickgate.sim.cocotb.no_such_tb", workdir=tmp_path)


def test_failed_check_is_reported(verilog: Path, tmp_path: Path) -> None:
    # Expect 3 cycles of latency from a 1-cycle design: the testbench's check must fail, and say so.
    with pytest.raises(SimulationFailed, match=r"random_packets: failed: .*came out 1 cycles after"):
        cocotb_test(cocotb_build(verilog), TB, testcase="random_packets", workdir=tmp_path,
                    env={"TB_LATENCY": "3", "TB_PACKETS": "3"})


@pytest.mark.parametrize("kind", ["vcd", "fst"])
def test_waves(verilog: Path, tmp_path: Path, kind: str) -> None:
    if kind == "fst" and not toolchain.has_header("lz4.h"):
        pytest.skip("FST needs lz4.h (apt-get install liblz4-dev)")
    waves = tmp_path / f"skid.{kind}"
    run = cocotb_test(cocotb_build(verilog, waves=kind), TB, testcase="full_rate", waves=waves,
                      workdir=tmp_path, env={"TB_PACKETS": "4"})
    assert run.waves == waves and waves.stat().st_size > 500
    head = waves.read_bytes()[:200]
    if kind == "vcd":
        text = waves.read_text()
        assert re.search(r"\$var wire +69 \S+ o__payload \[68:0\] \$end", text)
        assert text.count("\n#") > 2 * 20  # a value dump per clock edge
    else:  # FST: a header block (type 0, length 329) starts the file
        assert head[0] == 0 and int.from_bytes(head[1:9], "big") == 329


def test_waves_need_a_tracing_build(verilog: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="waveforms need a build"):
        cocotb_test(cocotb_build(verilog), TB, waves=tmp_path / "x.vcd")
