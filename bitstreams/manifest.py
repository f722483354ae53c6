"""The manifest of an image: what the f2 and f1 backends check before they trust a loaded image.

One JSON file per image (`manifest.json` beside the build), written when the design is generated and
completed with the AFI ids once `create-fpga-image` has answered:

    {"ids": {"vendor", "device", "subsystem_vendor", "subsystem_device"},   PCI IDs of the application function
     "map_version", "config", "git_commit", "afi_id", "agfi_id",           the fields the backends read
     "platform", "shell",                                                  f2 (small_shell) or f1 (XDMA shell)
     "format", "git_dirty", "created", "clock_recipe", "clock_mhz", "files", "afi_region"} and more for people

Format 1 manifests (before F2) have no platform: they are F1 images, and `read_manifest` says so.

`files` holds the SHA-256 of each generated design file, so an image can be traced to its sources.

    python -m tickgate.bitstreams.manifest set-ids MANIFEST --afi afi-... --agfi agfi-...
    python -m tickgate.bitstreams.manifest show MANIFEST
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tickgate.protocol.registers import MAP_VERSION

from .configs import BitstreamConfig
from .platforms import DEFAULT_PLATFORM, PLATFORMS, Platform

__all__ = ["FORMAT", "REQUIRED", "git_state", "main", "make_manifest", "read_manifest", "set_ids", "write_manifest"]

FORMAT = 2  # 2: platform and shell (F2)
#: The fields every manifest has (the backends' contract); format 1 lacks "platform" (F1 was the only one).
REQUIRED = ("ids", "map_version", "config", "git_commit", "afi_id", "agfi_id", "platform")
_AFI = re.compile(r"^afi-[0-9a-f]{8,32}$")
_AGFI = re.compile(r"^agfi-[0-9a-f]{8,32}$")
REPO = Path(__file__).resolve().parents[1]


def git_state(repo: Path = REPO) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout, or (None, None) outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True,
                                check=True)
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit.stdout.strip(), bool(status.stdout.strip())


def make_manifest(config: BitstreamConfig, files: Mapping[str, Path], *,
                  platform: Platform = PLATFORMS[DEFAULT_PLATFORM], standin: bool = False) -> dict[str, Any]:
    """The manifest of a freshly generated image of `config` for `platform` (no AFI yet); `files` maps names to
    design files."""
    commit, dirty = git_state()
    return {
        "format": FORMAT,
        "platform": platform.name,
        "shell": platform.shell,
        "ids": platform.ids,
        "map_version": MAP_VERSION,
        "config": config.as_dict(),
        "pipeline": "standin (decoder only)" if standin else "tickgate.hdl.pipeline.Pipeline",
        "git_commit": commit,
        "git_dirty": dirty,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        # F2 fixes clk_main_a0 at 250 MHz; F1 takes the configuration's recipe
        "clock_recipe": None if platform.clock_mhz else config.clock_recipe,
        "clock_mhz": platform.clock_mhz or config.clock_mhz,
        "files": {name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for name, p in sorted(files.items())},
        "afi_id": None,
        "agfi_id": None,
    }


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    """Write atomically (a reader never sees half a manifest)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    tmp.replace(path)


def read_manifest(path: Path | str) -> dict[str, Any]:
    """A manifest, checked: ValueError naming what is missing or malformed."""
    manifest = json.loads(Path(path).read_text())
    if manifest.get("format", 1) == 1:
        manifest.setdefault("platform", "f1")
    if missing := [k for k in REQUIRED if k not in manifest]:
        raise ValueError(f"{path}: manifest lacks {', '.join(missing)}")
    ids = manifest["ids"]
    if sorted(ids) != sorted(("vendor", "device", "subsystem_vendor", "subsystem_device")) or not all(
            isinstance(v, int) and 0 <= v <= 0xFFFF for v in ids.values()):
        raise ValueError(f"{path}: bad ids {ids!r}")
    if manifest["platform"] not in PLATFORMS:
        raise ValueError(f"{path}: platform {manifest['platform']!r} is not one of {', '.join(PLATFORMS)}")
    for key, pattern in (("afi_id", _AFI), ("agfi_id", _AGFI)):
        if manifest[key] is not None and not pattern.match(manifest[key]):
            raise ValueError(f"{path}: {key} {manifest[key]!r} is not an id of that kind")
    return manifest


def set_ids(path: Path | str, afi_id: str, agfi_id: str) -> dict[str, Any]:
    """Record the AFI ids `create-fpga-image` returned; ValueError if they are malformed or differ from ones set."""
    path = Path(path)
    manifest = read_manifest(path)
    for key, value, pattern in (("afi_id", afi_id, _AFI), ("agfi_id", agfi_id, _AGFI)):
        if not pattern.match(value):
            raise ValueError(f"{key} {value!r} is not an id of that kind")
        if manifest[key] not in (None, value):
            raise ValueError(f"{path} already names {key} {manifest[key]}; not replacing it with {value}")
        manifest[key] = value
    write_manifest(path, manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tickgate-manifest", description="image manifests")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("set-ids", help="record the afi/agfi ids of an image")
    s.add_argument("manifest")
    s.add_argument("--afi", required=True)
    s.add_argument("--agfi", required=True)
    show = sub.add_parser("show", help="check and print a manifest")
    show.add_argument("manifest")
    args = parser.parse_args(argv)
    try:
        manifest = (set_ids(args.manifest, args.afi, args.agfi) if args.command == "set-ids"
                    else read_manifest(args.manifest))
    except (OSError, ValueError) as e:
        print(f"tickgate-manifest: {e}", file=sys.stderr)
        return 1
    print(json.dumps(manifest, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
