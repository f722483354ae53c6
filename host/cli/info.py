"""`tickgate info`: what this machine offers: F2 cards (and legacy F1 cards) and their images, cached simulation
builds, the compiler and Verilator, and how the C++ module was built."""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tickgate.host.backend_f1 import DEFAULT_SYSFS_ROOT, ImageManifest

__all__ = ["add_parser", "cards", "f2_cards", "gather", "module", "ring_check", "sim_builds", "toolchain"]


def _hex(v: int) -> str:
    return f"{v:04x}"


def _expected(manifest: ImageManifest) -> dict[str, Any]:
    return {"ids": ":".join(_hex(v) for v in (manifest.vendor_id, manifest.device_id)) + " (subsystem "
            + ":".join(_hex(v) for v in (manifest.subsystem_vendor_id, manifest.subsystem_id)) + ")",
            "map_version": manifest.map_version, "agfi_id": manifest.agfi_id}


def _ids(s: dict[str, Any]) -> str | None:
    return (f"{_hex(s['vendor_id'])}:{_hex(s['device_id'])} (subsystem {_hex(s['subsystem_vendor_id'])}:"
            f"{_hex(s['subsystem_id'])})") if s["app_present"] else None


def f2_cards(sysfs_root: str | Path = DEFAULT_SYSFS_ROOT, manifest: ImageManifest | None = None) -> dict[str, Any]:
    """The F2 slots and what each holds, against `manifest` (default: $TICKGATE_F2_MANIFEST, else the F2 image
    this host speaks to)."""
    from tickgate.host.backend_f2 import default_manifest

    d = _slots("tickgate.host.backend_f2", sysfs_root, manifest or default_manifest(), lambda s: {})
    if d["slots"]:
        d["ring"] = ring_check()
    return d


def _slots(backend: str, sysfs_root: str | Path, manifest: ImageManifest,
           extra: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """The slots the `find_cards` of module `backend` finds and what each holds against `manifest`, with the
    `extra` fields of each slot."""
    expected = _expected(manifest)
    try:
        find_cards = importlib.import_module(backend).find_cards
        slots = find_cards(sysfs_root, manifest)
    except ImportError as e:
        return {"sysfs_root": str(sysfs_root), "expected": expected, "error": f"C++ module not importable: {e}",
                "slots": []}
    out = [{"slot": s["index"], "mgmt_address": s["mgmt_address"], "app_address": s["app_address"], "ids": _ids(s),
            **extra(s), "matches": not s["mismatch"], "why_not": s["mismatch"] or None} for s in slots]
    return {"sysfs_root": str(sysfs_root), "expected": expected, "slots": out}


def ring_check() -> dict[str, Any]:
    """Whether this process could pin the f2 backend's host event ring as `--backend f2` would: the ring it
    tries first (`F2_AUTO_RING_LOG2` records), else one page; where its memory comes from, or why not."""
    from tickgate._driver import F2_AUTO_RING_LOG2, DeviceError, f2_pin_ring_check
    from tickgate.protocol.f2_map import RING_MIN_LOG2

    why_not = []
    for log2 in (F2_AUTO_RING_LOG2, RING_MIN_LOG2):
        try:
            r = f2_pin_ring_check(log2)
        except DeviceError as e:
            why_not.append(f"{1 << log2} records: {e}")
            continue
        return {"records": 1 << log2, "ok": True, "how": r["how"], "why_not": "; ".join(why_not) or None}
    return {"records": 0, "ok": False, "why_not": "; ".join(why_not)}


def cards(sysfs_root: str | Path = DEFAULT_SYSFS_ROOT, manifest: ImageManifest | None = None) -> dict[str, Any]:
    """The F1 slots (legacy) and what each holds, against `manifest` (default: the image this host speaks to)."""
    return _slots("tickgate.host.backend_f1", sysfs_root, manifest or ImageManifest.default(),
                  lambda s: {"xdma": f"xdma{s['xdma']}" if s["xdma"] >= 0 else None})


def sim_builds(root: Path | None = None) -> dict[str, Any]:
    """The cached simulation builds under sim.build.build_root(): per design, its top, configuration and
    Verilator builds (complete when tickgate-build.json was written)."""
    if root is None:
        from tickgate.sim.build import build_root

        root = build_root()
    designs = []
    if root.is_dir():
        for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
            meta: dict[str, Any] = {}
            if (d / "config.json").is_file():
                try:
                    meta = json.loads((d / "config.json").read_text())
                except json.JSONDecodeError:
                    meta = {"error": "config.json is not valid JSON"}
            builds = []
            for b in sorted(d.glob("verilator-*")):
                info_file = b / "tickgate-build.json"
                if not info_file.is_file():
                    builds.append({"folder": b.name, "complete": False})
                    continue
                info = json.loads(info_file.read_text())
                flags = info.get("flags", [])
                waves = next((f.removeprefix("--trace-") for f in flags if f.startswith("--trace-")), None)
                builds.append({"folder": b.name, "complete": True, "waves": waves,
                               "seconds": round(info.get("seconds", 0.0), 1),
                               "verilator": (info.get("tools") or ["?"])[0]})
            designs.append({"name": d.name, "top": meta.get("top"), "config": meta.get("config"), "builds": builds})
    return {"root": str(root), "designs": designs}


def toolchain() -> dict[str, Any]:
    """The C++ compiler and Verilator versions (what a simulation build would use)."""
    from tickgate.sim import toolchain as tc
    from tickgate.sim import verilator

    out: dict[str, Any] = {"compiler": tc.compiler_id()}
    try:
        out["verilator"] = verilator.version()
        out["verilator_root"] = str(verilator.root())
    except (verilator.VerilatorNotFound, OSError) as e:
        out["verilator"] = None
        out["verilator_error"] = str(e)
    try:
        from importlib.metadata import version

        out["cocotb"] = version("cocotb")
    except Exception:  # not installed
        out["cocotb"] = None
    return out


def module() -> dict[str, Any]:
    """The compiled tickgate._driver: where, how built, and whether it matches protocol/ as loaded now."""
    from tickgate.protocol.registers import MAP_VERSION, counter_names

    try:
        from tickgate import _driver
    except ImportError as e:
        return {"error": f"tickgate._driver does not import: {e} (make setup builds it)"}
    info = dict(_driver.build_info()) if hasattr(_driver, "build_info") else {}
    info["devices"] = list(info.get("devices", ()))
    info["path"] = _driver.__file__
    compiled = tuple(name for name, _ in _driver.counters()) if hasattr(_driver, "counters") else ()
    info["matches_protocol"] = info.get("map_version") == MAP_VERSION and compiled == counter_names()
    return info


def gather(sysfs_root: str | Path = DEFAULT_SYSFS_ROOT, manifest: ImageManifest | None = None,
           sim_root: Path | None = None) -> dict[str, Any]:
    """Everything `tickgate info` reports, as one JSON-able dict (`manifest`: checks the F2 and F1 cards both)."""
    return {"f2_cards": f2_cards(sysfs_root, manifest), "cards": cards(sysfs_root, manifest),
            "sim_builds": sim_builds(sim_root), "toolchain": toolchain(), "module": module()}


def _print_cards(title: str, c: dict[str, Any], mgmt_ids: str, out=None) -> None:
    e = c["expected"]
    image = f"{e['agfi_id']} " if e["agfi_id"] else ""
    print(f"{title} ({c['sysfs_root']}; expected image {image}{e['ids']}, map v{e['map_version']}):", file=out)
    if c.get("error"):
        print(f"  {c['error']}", file=out)
    elif not c["slots"]:
        print(f"  none (no management function {mgmt_ids})", file=out)
    for s in c["slots"]:
        state = "matches" if s["matches"] else f"does not match: {s['why_not']}"
        xdma = f" {s['xdma'] or '(no xdma)'}" if "xdma" in s else ""
        print(f"  slot {s['slot']}: {s['app_address']} {s['ids'] or '(no application function)'}{xdma}; {state}",
              file=out)
    if r := c.get("ring"):
        if r["ok"]:
            smaller = f" (not larger: {r['why_not']})" if r["why_not"] else ""
            print(f"  host event ring: {r['records']} records in {r['how']}{smaller}", file=out)
        else:
            print(f"  host event ring: cannot be set up by this process: {r['why_not']}", file=out)


def _print(d: dict[str, Any], out=None) -> None:
    _print_cards("F2 cards", d["f2_cards"], "1d0f:9248", out)
    _print_cards("F1 cards (legacy)", d["cards"], "1d0f:1041", out)
    if not any(s["matches"] for s in (*d["f2_cards"]["slots"], *d["cards"]["slots"])):
        print("no card holds the expected image: `--backend auto` runs the software model", file=out)
    sb = d["sim_builds"]
    print(f"simulation builds ({sb['root']}):", file=out)
    if not sb["designs"]:
        print("  none cached", file=out)
    for x in sb["designs"]:
        complete = [b for b in x["builds"] if b["complete"]]
        waves = sorted({b["waves"] or "no waves" for b in complete})
        top = f"top {x['top']}, " if x["top"] else ""
        unfinished = len(x["builds"]) - len(complete)
        print(f"  {x['name']}: {top}{len(complete)} build(s) ({', '.join(waves) or '-'})"
              + (f", {unfinished} unfinished (building now, or failed)" if unfinished else ""), file=out)
    t = d["toolchain"]
    print(f"compiler: {t['compiler']}", file=out)
    print(f"verilator: {t['verilator'] or t.get('verilator_error')}", file=out)
    print(f"cocotb: {t['cocotb'] or 'not installed'}", file=out)
    m = d["module"]
    if "error" in m:
        print(f"C++ module: {m['error']}", file=out)
    else:
        print(f"C++ module: {m['path']}", file=out)
        print(f"  {m.get('compiler', '?')}, C++ {m.get('cplusplus', '?')}, "
              f"{'optimised' if m.get('optimized') else 'not optimised'}, pybind11 {m.get('pybind11', '?')}, "
              f"map v{m.get('map_version', '?')}, devices {', '.join(m['devices']) or '?'}; "
              f"{'matches' if m['matches_protocol'] else 'does NOT match (rebuild: make setup)'} protocol/", file=out)


def _cmd_info(args: argparse.Namespace) -> int:
    manifest = ImageManifest.load(args.manifest) if args.manifest else None
    d = gather(args.sysfs_root, manifest)
    _print(d)
    if args.json:
        print(json.dumps(d))
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `tickgate info` on the CLI's subparsers."""
    p = sub.add_parser("info", help="what is available: F2 (and F1) cards and images, simulation builds, toolchain")
    p.add_argument("--json", action="store_true", help="end with one JSON line of everything")
    p.add_argument("--manifest", type=Path,
                   help="the image manifest (JSON) cards are checked against (default: $TICKGATE_F2_MANIFEST for F2 "
                        "cards, $TICKGATE_F1_MANIFEST for F1 cards, else the image this version speaks to)")
    p.add_argument("--sysfs-root", default=DEFAULT_SYSFS_ROOT,
                   help=f"PCI devices folder (default {DEFAULT_SYSFS_ROOT})")
    p.set_defaults(func=_cmd_info)
    return p
