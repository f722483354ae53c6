"""Build the pipeline RTL into a shared library: Verilator's C++ model plus `harness.cpp` (a C ABI).

The model's top is `sim_top.v` (`tickgate_sim`) around the pipeline: every input of the pipeline constant or
registered there, so that Verilator evaluates the design once a cycle (see sim_top.v and harness.cpp).

Cached beside the pipeline's Verilog (`sim.build.generate_verilog`, under `build_root()`):

    tickgate_pipeline-<hash>/
        verilated-<key>/          verilator --cc, then make: libVtop.a, libverilated.a, build.log, model.json
            libtickgate_sim-<harness key>.so, tickgate-sim.json (written last: the library is complete)

`key` covers the Verilog (without `src` attributes), sim_top.v, the waivers, Verilator, the compiler and every flag;
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
import re
import resource
import shutil
import subprocess
import time
from pathlib import Path

from tickgate.protocol.config import BookGeometry
from tickgate.sim import toolchain, verilator
from tickgate.sim.build import _SRC_ATTR, MAKE_VARIABLES, REPO, build_root
from tickgate.sim.results import BuildFailed

__all__ = ["CFLAGS", "HARNESS", "OPT_FAST", "SIM_TOP", "THREADS", "TOP", "VERILATOR_FLAGS", "SimToolMissing",
           "build_library", "library_for", "top_parameters"]

HARNESS = Path(__file__).with_name("harness.cpp")
#: The model's top module (`tickgate_sim`) around TOP; its parameters are the widths of TOP's ports.
SIM_TOP = Path(__file__).with_name("sim_top.v")
TOP = "tickgate_pipeline"
#: sim_top.v's parameters: the TOP port whose width each one is.
_PARAMETER_PORTS = {"COUNTERS": "counters", "ADDR": "csr__araddr", "STATUS": "dma_status"}
#: Verilator's options: full optimisation, X handled fast (Amaranth gives every register an init value), no
#: assertions compiled in. UNOPTFLAT stays a (fatal) warning: the pipeline has no combinational loop through a
#: packed vector, and one would make the model iterate to converge. Threads: $TICKGATE_SIM_THREADS (default 1;
#: a separate cached build), see the README for what a second thread gave on 2 shared cores.
THREADS = int(os.environ.get("TICKGATE_SIM_THREADS", "1"))
VERILATOR_FLAGS: tuple[str, ...] = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "--no-assert",
                                    *(("--threads", str(THREADS)) if THREADS > 1 else ()))
#: C++ options of everything linked into the library. Position-independent; hidden visibility keeps calls
#: inside the model direct (about a third faster than interposable ones); the context keeps the time.
CFLAGS: tuple[str, ...] = ("-std=c++20", "-fPIC", "-fvisibility=hidden", "-DVL_TIME_CONTEXT")
#: Optimisation of the model's C++ (verilated.mk's OPT_FAST; its default -Os runs slower).
OPT_FAST = os.environ.get("TICKGATE_SIM_OPT", "-O2")
_DEFINES = ("-DVERILATOR=1", "-DVM_COVERAGE=0", "-DVM_SC=0", "-DVM_TIMING=0", "-DVM_TRACE=0", "-DVM_TRACE_FST=0",
            "-DVM_TRACE_VCD=0", "-DVM_TRACE_SAIF=0", f"-DTG_MODEL_THREADS={THREADS}")
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


def top_parameters(verilog: str) -> dict[str, int]:
    """sim_top.v's parameters for the pipeline in `verilog` (the widths of its counters, AXI-Lite address and
    dma_status ports). Raises BuildFailed if the pipeline's ports are not the ones sim_top.v connects."""
    body = re.search(rf"^module {TOP}\((.*?)\);(.*?)^endmodule", verilog, re.M | re.S)
    if body is None:
        raise BuildFailed(f"no module {TOP} in the Verilog")
    names = {n.strip() for n in body.group(1).split(",")}
    connected = set(re.findall(r"\.(\w+)\(", SIM_TOP.read_text()))
    if names != connected:
        raise BuildFailed(f"{SIM_TOP.name} connects {sorted(connected - names)} that {TOP} lacks and leaves "
                          f"{sorted(names - connected)} open: update it to the pipeline's ports")
    widths = {m[2]: int(m[1]) + 1 if m[1] else 1
              for m in re.finditer(r"^\s*(?:input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", body.group(2), re.M)}
    return {param: widths[port] for param, port in _PARAMETER_PORTS.items()}


def _library_name(key: str) -> str:
    """The library's file name for the model `key` with the current harness (a changed harness relinks)."""
    return f"libtickgate_sim-{_digest(key, HARNESS.read_text(), *_DEFINES)}.so"


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children: a build's cost on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
    verilog = verilog_path.read_text()
    parameters = top_parameters(verilog)
    key = _digest(_SRC_ATTR.sub("", verilog), TOP, SIM_TOP.read_text(), *tools, *(w.read_text() for w in waivers))
    objdir = verilog_path.parent / f"verilated-{key}"
    library = objdir / _library_name(key)
    stamp = objdir / "tickgate-sim.json"
    with toolchain.locked(verilog_path.parent / f".verilated-{key}.lock"):
        if library.is_file() and stamp.is_file() and json.loads(stamp.read_text()).get("library") == library.name:
            return library
        objdir.mkdir(parents=True, exist_ok=True)
        log = objdir / "build.log"
        start, cpu = time.monotonic(), _children_cpu()
        model_stamp = objdir / "model.json"
        if not (model_stamp.is_file() and (objdir / "libVtop.a").is_file() and (objdir / "libverilated.a").is_file()):
            log.write_text("")
            runtime = build_root() / f"_runtime-so-{_digest(*tools)}"
            cflags = " ".join(CFLAGS)
            _run([str(verilator.executable()), "--cc", "--prefix", "Vtop", "--top-module", "tickgate_sim",
                  "-Mdir", str(objdir), *VERILATOR_FLAGS, *(f"-G{k}={v}" for k, v in parameters.items()),
                  "-CFLAGS", cflags, *map(str, waivers), str(verilog_path), str(SIM_TOP)], objdir, log,
                 f"Verilating {verilog_path.name}")
            for obj in toolchain.cached_objects(runtime):
                toolchain._place(obj, objdir / obj.name)
            _run(["make", "-j", _jobs(), "-f", "Vtop.mk", *make_vars], objdir, log,
                 f"compiling the Verilated {TOP}")
            toolchain.harvest(objdir, runtime)
            for pch in objdir.glob("*.gch"):  # precompiled headers: 180 MB, of no use once the model is built
                pch.unlink()
            warnings = [line for line in log.read_text().splitlines() if line.startswith("%Warning")]
            model_stamp.write_text(json.dumps({"seconds": time.monotonic() - start,
                                               "cpu_seconds": _children_cpu() - cpu, "warnings": warnings,
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
    name = _digest(json.dumps(config, sort_keys=True), _sources_digest(), SIM_TOP.read_text(), *tools)
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

