"""`make bitstream [PLATFORM=f2|f1] [CONFIG=name]`: an image up to the vendor tools, in build/bitstream/.

F2 is the default platform (`bitstreams.platforms`); F1 (retired by AWS) is kept as a legacy configuration.

    build/bitstream/<platform>/<config>/
        manifest.json                     platform, shell, configuration, git commit, IDs, map version; AFI ids
        cl_tickgate/                      the HDK's CL_DIR
            design/tickgate_core.v        the pipeline and the platform's buses (Amaranth -> Verilog)
            design/cl_tickgate.sv         the CL top in the shell's port conventions
            design/cl_id_defines.vh       (F2) the PCI IDs the HDK build reads
            verif/<shell stand-in>.sv     the shell stand-in the CL is linted and simulated with here
            build/scripts/, build/constraints/   the HDK build (bitstreams/hdk_f2.py, hdk_f1.py)
            afi/                          AFI creation, wait and load (bitstreams/afi.py)

Then it lints the CL top with the shell stand-in (`verilator --lint-only -Wall`), and stops where Vivado is
needed: if there is none, it says what to run on a machine that has it.

    python -m tickgate.bitstreams.build [--platform f2|f1] [--config NAME] [--out DIR] [--standin] [--no-lint]
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
import time
from pathlib import Path

from tickgate.protocol.registers import MAP_VERSION

from . import afi, hdk_f1, hdk_f2
from .cl_top import CL_MODULE, CORE_MODULE
from .configs import CONFIGS, BitstreamConfig, PipelineMissing, get
from .manifest import make_manifest, write_manifest
from .platforms import DEFAULT_PLATFORM, PLATFORMS, Platform, get_platform

__all__ = ["generate", "image_folder", "lint", "main"]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "build" / "bitstream"


def _write(path: Path, text: str, executable: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def image_folder(config: BitstreamConfig, platform: Platform, out: Path = DEFAULT_OUT) -> Path:
    """Where the image of `config` for `platform` goes: `out/<platform>/<config>`."""
    return out / platform.name / config.name


def _design(config: BitstreamConfig, platform: Platform, standin: bool) -> dict[str, tuple[str, str]]:
    """name -> (path in the CL folder, text) of the design files: core, CL top, shell stand-in (and, on F2,
    cl_id_defines.vh)."""
    from . import cl_sim, cl_top, cl_top_f2

    files = {"core": (f"design/{CORE_MODULE}.v", cl_sim.core_verilog(config, standin=standin,
                                                                     platform=platform.name))}
    shell = f"verif/{cl_sim.shell_module(platform.name)}.sv"
    if platform.name == "f1":
        return {**files, "top": (f"design/{CL_MODULE}.sv", cl_top.cl_top(config.name)),
                "shell_standin": (shell, cl_top.shell_standin())}
    return {**files, "top": (f"design/{CL_MODULE}.sv", cl_top_f2.cl_top(config.name)),
            "ids": (f"design/{cl_top_f2.ID_DEFINES_FILE}", cl_top_f2.cl_id_defines()),
            "shell_standin": (shell, cl_top_f2.shell_standin())}


def lint(config: BitstreamConfig, platform: Platform, core: str, *, standin: bool = False) -> list[str]:
    """Verilator -Wall messages on the CL top of `platform` with its shell stand-in (empty: clean)."""
    from tickgate.sim import verilator

    from . import cl_sim

    source = cl_sim.sim_source(config, standin=standin, core=core, platform=platform.name)
    return verilator.lint(source, cl_sim.shell_module(platform.name))


def generate(config: BitstreamConfig, out: Path = DEFAULT_OUT, *, platform: Platform | str = DEFAULT_PLATFORM,
             standin: bool = False) -> dict[str, Path]:
    """Write the image folder of `config` for `platform` (see the module docstring); name -> path written.

    The manifest is written last. An existing manifest with AFI ids is kept aside as `manifest.<afi>.json`.
    """
    platform = get_platform(platform) if isinstance(platform, str) else platform
    folder = image_folder(config, platform, out)
    cl_dir = folder / CL_MODULE
    written = {name: _write(cl_dir / rel, text) for name, (rel, text) in _design(config, platform, standin).items()}
    if platform.name == "f2":
        build = hdk_f2.scripts(config.name, core=f"{CORE_MODULE}.v", top=f"{CL_MODULE}.sv")
    else:
        build = hdk_f1.scripts(config.name, recipe=config.clock_recipe, mhz=config.clock_mhz,
                               core=f"{CORE_MODULE}.v", top=f"{CL_MODULE}.sv")
    for rel, text in {**build, **afi.scripts(config.name, platform, map_version=MAP_VERSION)}.items():
        written[rel] = _write(cl_dir / rel, text, executable=rel.endswith(".sh"))
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        import json

        old = json.loads(manifest_path.read_text())
        if old.get("afi_id"):
            shutil.copyfile(manifest_path, folder / f"manifest.{old['afi_id']}.json")
    hashed = {k: written[k] for k in ("core", "top", "ids") if k in written}
    write_manifest(manifest_path, make_manifest(config, hashed, platform=platform, standin=standin))
    written["manifest"] = manifest_path
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tickgate-bitstream", description=__doc__.splitlines()[0])
    parser.add_argument("--platform", default=DEFAULT_PLATFORM, choices=sorted(PLATFORMS),
                        help=f"AWS FPGA platform (default: {DEFAULT_PLATFORM}; f1 is legacy)")
    parser.add_argument("--config", default="default", help=f"one of {', '.join(CONFIGS)} (default: default)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where image folders go (build/bitstream)")
    parser.add_argument("--standin", action="store_true", help="the decoder-only stand-in instead of the pipeline")
    parser.add_argument("--no-lint", action="store_true", help="skip the Verilator lint of the CL top")
    args = parser.parse_args(argv)
    try:
        config = get(args.config)
    except KeyError as e:
        parser.error(str(e.args[0]))
    start = time.monotonic()
    try:
        platform = get_platform(args.platform)
        written = generate(config, args.out, platform=platform, standin=args.standin)
    except PipelineMissing as e:
        print(f"tickgate-bitstream: {e}", file=sys.stderr)
        return 2
    folder = written["manifest"].parent
    print(f"{config.name} for {platform.name.upper()} ({platform.shell}): generated in "
          f"{time.monotonic() - start:.0f} s into {folder}")
    for path in written.values():
        print(f"  {path.relative_to(folder)}")
    if not args.no_lint:
        messages = lint(config, platform, written["core"].read_text(), standin=args.standin)
        if messages:
            print(f"verilator --lint-only -Wall: {len(messages)} warnings on the CL with the shell stand-in:",
                  *messages[:20], sep="\n  ", file=sys.stderr)
            return 1
        print("verilator --lint-only -Wall on the CL top with the shell stand-in: clean")
    build_sh = written["build/scripts/build.sh"]
    if shutil.which("vivado") is None or "HDK_DIR" not in os.environ:
        branch = "" if platform.hdk_branch == "f2" else f" -b {platform.hdk_branch}"
        print(f"\nVivado (and the {platform.name.upper()} HDK) are not here, so the flow stops before synthesis. "
              f"On a machine that has them (the FPGA Developer AMI):\n"
              f"  git clone{branch} https://github.com/aws/aws-fpga && source aws-fpga/hdk_setup.sh\n"
              f"  copy {folder} there, then run\n"
              f"  {build_sh.relative_to(folder)}            # DCP tarball (hours)\n"
              f"  {CL_MODULE}/afi/create_afi.sh <s3-bucket>   # AFI; ids into manifest.json\n"
              f"  {CL_MODULE}/afi/wait_afi.sh                 # until available\n"
              f"  {CL_MODULE}/afi/load.sh                     # on the {platform.name.upper()} instance")
        return 0
    print(f"Vivado found: run {build_sh} (it takes hours), then afi/create_afi.sh <s3-bucket>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
