"""Build the pipeline RTL into a shared library: Verilator's C++ model plus `harness.cpp` (a C ABI).

Cached beside the pipeline's Verilog (`sim.build.generate_verilog`, under `build_root()`):

    tickgate_pipeline-<hash>/
        verilated-<key>/          verilator --cc, then make: libVtop.a, libverilated.a, build.log, model.json
            libtickgate_sim-<harness key>.so, tickgate-sim.json (written last: the library is complete)

`key` covers the Verilog (without `src` attributes), the waivers, Verilator, the compiler and every flag;
the harness key adds harness.cpp and its flags, so editing the harness relinks without re-Verilating.
Verilator's runtime objects (compiled with -fPIC here, so apart from cocotb's) are shared between
builds (`toolchain`). An index keyed by the geometry and the gateware's Python sources finds a finished
library without elaborating the design again (`library_for`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from tickgate.protocol.config import BookGeometry
from tickgate.sim import toolchain, verilator
from tickgate.sim.build import _SRC_ATTR, MAKE_VARIABLES, REPO, build_root
from tickgate.sim.results import BuildFailed

__all__ = ["CFLAGS", "HARNESS", "OPT_FAST", "TOP", "VERILATOR_FLAGS", "SimToolMissing", "build_library",
           "library_for"]

HARNESS = Path(__file__).with_name("harness.cpp")
TOP = "tickgate_pipeline"
#: Verilator's options: full optimisation, X handled fast (Amaranth gives every register an init value),
#: UNOPTFLAT off as in `sim.build.VERILATOR_FLAGS` (struct fields packed into one wire look like loops).
VERILATOR_FLAGS: tuple[str, ...] = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "-Wno-UNOPTFLAT")
#: C++ options of everything linked into the library. Position-independent; hidden visibility keeps calls
#: inside the model direct (about a third faster than interposable ones); the context keeps the time.
CFLAGS: tuple[str, ...] = ("-std=c++20", "-fPIC", "-fvisibility=hidden", "-DVL_TIME_CONTEXT")
#: Optimisation of the model's C++ (verilated.mk's OPT_FAST; its default -Os runs slower).
OPT_FAST = os.environ.get("TICKGATE_SIM_OPT", "-O2")
_DEFINES = ("-DVERILATOR=1", "-DVM_COVERAGE=0", "-DVM_SC=0", "-DVM_TIMING=0", "-DVM_TRACE=0", "-DVM_TRACE_FST=0",
            "-DVM_TRACE_VCD=0", "-DVM_TRACE_SAIF=0")
_GATEWARE_SOURCES = ("hdl", "protocol", "model")  # what the gateware's elaboration imports


class SimToolMissing(BuildFailed):
    """A tool the sim backend's build needs (C++ compiler, make, Verilator) is not installed."""


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def check_tools() -> None:
    """Raise SimToolMissing naming what is absent: a C++ compiler (`c++`), `make`, Verilator."""
    for tool, hint in (("c++", "a C++20 compiler as `c++` (Debian: apt-get install g++)"),
                       ("make", "GNU make (Debian: apt-get install make)")):
        if shutil.which(tool) is None:
            raise SimToolMissing(f"the sim backend builds the pipeline with Verilator and needs {hint}; "
                                 f"`{tool}` is not on PATH")
    try:
        verilator.executable()
    except verilator.VerilatorNotFound as e:
        raise SimToolMissing(f"the sim backend needs Verilator: {e}") from None


def _run(cmd: list[str], cwd: Path, log: Path, what: str) -> None:
    with log.open("a") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        done = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=verilator.env())
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise BuildFailed(f"{what} failed ({done.returncode}); log {log}:\n{tail}")


def _library_name(key: str) -> str:
    """The library's file name for the model `key` with the current harness (a changed harness relinks)."""
    return f"libtickgate_sim-{_digest(key, HARNESS.read_text(), *_DEFINES)}.so"


def _jobs() -> str:
    return str(max(1, min(4, os.cpu_count() or 1)))


def build_library(verilog_path: Path) -> Path:
    """The shared library of the pipeline in `verilog_path` (top `tickgate_pipeline`, input "dma"), built once."""
    check_tools()
    verilog_path = Path(verilog_path).resolve()
    waivers = verilator.default_waivers(verilog_path)
    make_vars = (*MAKE_VARIABLES, f"OPT_FAST={OPT_FAST}")
    tools = (verilator.version(), toolchain.compiler_id(), json.dumps(VERILATOR_FLAGS), json.dumps(CFLAGS),
             json.dumps(make_vars))
    key = _digest(_SRC_ATTR.sub("", verilog_path.read_text()), TOP, *tools, *(w.read_text() for w in waivers))
    objdir = verilog_path.parent / f"verilated-{key}"
    library = objdir / _library_name(key)
    stamp = objdir / "tickgate-sim.json"
    with toolchain.locked(verilog_path.parent / f".verilated-{key}.lock"):
        if library.is_file() and stamp.is_file() and json.loads(stamp.read_text()).get("library") == library.name:
            return library
        objdir.mkdir(parents=True, exist_ok=True)
        log = objdir / "build.log"
        start = time.monotonic()
        model_stamp = objdir / "model.json"
        if not (model_stamp.is_file() and (objdir / "libVtop.a").is_file() and (objdir / "libverilated.a").is_file()):
            log.write_text("")
            runtime = build_root() / f"_runtime-so-{_digest(*tools)}"
            cflags = " ".join(CFLAGS)
            _run([str(verilator.executable()), "--cc", "--prefix", "Vtop", "--top-module", TOP, "-Mdir", str(objdir),
                  *VERILATOR_FLAGS, "-CFLAGS", cflags, *map(str, waivers), str(verilog_path)], objdir, log,
                 f"Verilating {verilog_path.name}")
            for obj in toolchain.cached_objects(runtime):
                toolchain._place(obj, objdir / obj.name)
            _run(["make", "-j", _jobs(), "-f", "Vtop.mk", *make_vars], objdir, log,
                 f"compiling the Verilated {TOP}")
            toolchain.harvest(objdir, runtime)
            for pch in objdir.glob("*.gch"):  # precompiled headers: 180 MB, of no use once the model is built
                pch.unlink()
            warnings = [line for line in log.read_text().splitlines() if line.startswith("%Warning")]
            model_stamp.write_text(json.dumps({"seconds": time.monotonic() - start, "warnings": warnings,
                                               "tools": tools}, indent=1) + "\n")
        root = verilator.root()
        tmp = library.with_name(f".{library.name}.{os.getpid()}")
        _run(["c++", *CFLAGS, "-O2", "-shared", *_DEFINES, "-I", str(objdir), "-I", str(root / "include"),
              "-I", str(root / "include" / "vltstd"), str(HARNESS), str(objdir / "libVtop.a"),
              str(objdir / "libverilated.a"), "-pthread", "-o", str(tmp)], objdir, log, "linking the sim harness")
        tmp.replace(library)
        stamp.write_text(json.dumps({"library": library.name, "seconds": time.monotonic() - start}) + "\n")
        return library


def _sources_digest() -> str:
    """Every Python source the gateware's elaboration may read (hdl/, protocol/, model/, the pipeline factory)
    and the Amaranth version."""
    from importlib.metadata import version

    h = hashlib.sha256(version("amaranth").encode())
    paths = [path for folder in _GATEWARE_SOURCES for path in sorted((REPO / folder).rglob("*.py"))]
    for path in [*paths, REPO / "sim" / "pipeline_run.py"]:
        if not path.name.startswith("test_"):
            h.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@functools.cache
def library_for(geometry: BookGeometry, rules: int = 0) -> Path:
    """The library of the pipeline with this geometry and `rules` rule-table entries (input "dma"): from the
    index when the gateware's sources are unchanged since it was built, else elaborated (about a minute),
    Verilated and compiled."""
    from tickgate.sim.build import generate_verilog
    from tickgate.sim.pipeline_run import geometry_config, pipeline_factory

    check_tools()
    config = geometry_config(geometry, "dma", rules)
    tools = (verilator.version(), toolchain.compiler_id(), json.dumps(VERILATOR_FLAGS), json.dumps(CFLAGS), OPT_FAST)
    name = _digest(json.dumps(config, sort_keys=True), _sources_digest(), *tools)
    index = build_root() / "_sim-index" / f"{name}.json"
    if index.is_file():
        known = Path(json.loads(index.read_text())["library"])
        if known.is_file() and known.name == _library_name(known.parent.name.removeprefix("verilated-")):
            return known
    library = build_library(generate_verilog(pipeline_factory, TOP, config))
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_name(f".{index.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"library": str(library), "config": config}) + "\n")
    tmp.replace(index)
    return library

