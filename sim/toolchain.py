"""The C++ side of simulator builds: the compiler, optional headers, and Verilator's runtime library
compiled once and shared by every build.

Most of a small design's build time is compiling Verilator's own runtime (verilated.cpp, verilated_vpi.cpp,
verilated_threads.cpp, ...: about 15 CPU seconds), which does not depend on the design. A build places
the runtime objects of an earlier build with the same key (Verilator, cocotb, compiler, flags) in its
object folder after Verilator wrote the makefiles and before `make` runs (they must be newer than
Vtop.mk); make sees them up to date and compiles only the design. Objects of a finished build are kept
for the next one. Keys cover everything that reaches the runtime's compile.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["RUNTIME_OBJECTS", "cached_objects", "compiler_id", "harvest", "has_header", "locked"]

#: Object files of Verilator's runtime library, as named in a Verilated model's object folder.
RUNTIME_OBJECTS = ("verilated*.o",)


@functools.cache
def compiler_id() -> str:
    """The first line of `c++ --version` (the runtime objects are only valid for one compiler)."""
    out = subprocess.run(["c++", "--version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0] if out.returncode == 0 and out.stdout else "unknown c++"


@functools.cache
def has_header(name: str) -> bool:
    """Whether `#include <name>` compiles (e.g. lz4.h, which FST waveforms need)."""
    out = subprocess.run(["c++", "-E", "-x", "c++", "-"], input=f"#include <{name}>\n",
                         capture_output=True, text=True)
    return out.returncode == 0


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _place(src: Path, dst: Path) -> None:
    """Copy `src` to `dst` atomically (a copy, not a link: a compiler rewriting one must not change the
    other); the copy is newer than the runtime's sources, so make keeps it."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def cached_objects(cache: Path) -> list[Path]:
    """The runtime objects kept in `cache` (none if it does not exist yet)."""
    return sorted(obj for pattern in RUNTIME_OBJECTS for obj in cache.glob(pattern)) if cache.is_dir() else []


def harvest(objdir: Path, cache: Path) -> None:
    """Keep the runtime objects of a finished build in `cache` (the ones it does not have yet)."""
    cache.mkdir(parents=True, exist_ok=True)
    for pattern in RUNTIME_OBJECTS:
        for obj in objdir.glob(pattern):
            if not (cache / obj.name).exists():
                _place(obj, cache / obj.name)
