"""`make bitstream [CONFIG=name]`: everything of an F1 image up to the vendor tools, into build/bitstream/<config>/.

    build/bitstream/<config>/
        manifest.json                     configuration, git commit, IDs, map version; afi/agfi ids once known
        cl_tickgate/                      the HDK's CL_DIR
            design/tickgate_core.v        the pipeline and its F1 buses (Amaranth -> Verilog)
            design/cl_tickgate.sv         the CL top in the shell's port conventions
            verif/tickgate_f1_shell.sv    the shell stand-in the CL is linted and simulated with here
            build/scripts/, build/constraints/, afi/   the HDK and AFI scripts (bitstreams/hdk.py)

Then it lints the CL top with the shell stand-in (`verilator --lint-only -Wall`), and stops where Vivado is
needed: if there is none, it says what to run on a machine that has it.

    python -m tickgate.bitstreams.build [--config NAME] [--out DIR] [--standin] [--no-lint]
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
import time
from pathlib import Path

from tickgate.protocol.f1_map import cl_sh_id0, cl_sh_id1
from tickgate.protocol.registers import MAP_VERSION

from .cl_sim import core_verilog, sim_source
from .cl_top import CL_MODULE, CORE_MODULE, SHELL_MODULE, cl_top, shell_standin
from .configs import CONFIGS, BitstreamConfig, PipelineMissing, get
from .hdk import scripts
from .manifest import make_manifest, write_manifest

__all__ = ["generate", "main"]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "build" / "bitstream"


def _write(path: Path, text: str, executable: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def generate(config: BitstreamConfig, out: Path = DEFAULT_OUT, *, standin: bool = False) -> dict[str, Path]:
    """Write the image folder of `config` under `out` (see the module docstring); name -> path of what was written.

    The manifest is written last. An existing manifest with AFI ids is kept aside as `manifest.<afi>.json`.
    """
    folder = out / config.name
    cl_dir = folder / CL_MODULE
    written = {
        "core": _write(cl_dir / "design" / f"{CORE_MODULE}.v", core_verilog(config, standin=standin)),
        "top": _write(cl_dir / "design" / f"{CL_MODULE}.sv", cl_top(config.name)),
        "shell_standin": _write(cl_dir / "verif" / f"{SHELL_MODULE}.sv", shell_standin()),
    }
    ids = f"{cl_sh_id0():#010x} {cl_sh_id1():#010x}"
    for rel, text in scripts(config.name, recipe=config.clock_recipe, mhz=config.clock_mhz,
                             core=f"{CORE_MODULE}.v", top=f"{CL_MODULE}.sv", map_version=MAP_VERSION,
                             ids=ids).items():
        written[rel] = _write(cl_dir / rel, text, executable=rel.endswith(".sh"))
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        import json

        old = json.loads(manifest_path.read_text())
        if old.get("afi_id"):
            shutil.copyfile(manifest_path, folder / f"manifest.{old['afi_id']}.json")
    write_manifest(manifest_path, make_manifest(config, {k: written[k] for k in ("core", "top")}, standin=standin))
    written["manifest"] = manifest_path
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tickgate-bitstream", description=__doc__.splitlines()[0])
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
        written = generate(config, args.out, standin=args.standin)
    except PipelineMissing as e:
        print(f"tickgate-bitstream: {e}", file=sys.stderr)
        return 2
    folder = written["manifest"].parent
    print(f"{config.name}: generated in {time.monotonic() - start:.0f} s into {folder}")
    for path in written.values():
        print(f"  {path.relative_to(folder)}")
    if not args.no_lint:
        from tickgate.sim import verilator

        core = written["core"].read_text()
        messages = verilator.lint(sim_source(config, standin=args.standin, core=core), SHELL_MODULE)
        if messages:
            print(f"verilator --lint-only -Wall: {len(messages)} warnings on the CL with the shell stand-in:",
                  *messages[:20], sep="\n  ", file=sys.stderr)
            return 1
        print("verilator --lint-only -Wall on the CL top with the shell stand-in: clean")
    build_sh = written["build/scripts/build.sh"]
    if shutil.which("vivado") is None or "HDK_DIR" not in os.environ:
        print(f"\nVivado (and the F1 HDK) are not here, so the flow stops before synthesis. On a machine that has "
              f"them (the FPGA Developer AMI):\n"
              f"  git clone -b f1_xdma_shell https://github.com/aws/aws-fpga && source aws-fpga/hdk_setup.sh\n"
              f"  copy {folder} there, then run\n"
              f"  {build_sh.relative_to(folder)}            # DCP tarball (hours)\n"
              f"  {CL_MODULE}/afi/create_afi.sh <s3-bucket>   # AFI; ids into manifest.json\n"
              f"  {CL_MODULE}/afi/wait_afi.sh                 # until available\n"
              f"  {CL_MODULE}/afi/load.sh                     # on the F1 instance")
        return 0
    print(f"Vivado found: run {build_sh} (it takes hours), then afi/create_afi.sh <s3-bucket>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
