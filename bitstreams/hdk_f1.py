"""The AWS F1 (legacy) HDK scripts of an image: the Vivado build around aws_build_dcp_from_cl.sh.

They are written into the image's CL folder (`build/bitstream/f1/<config>/cl_tickgate/`, the HDK's `CL_DIR`):

    build/scripts/build.sh            checks Vivado and the HDK environment, runs aws_build_dcp_from_cl.sh (A1)
    build/scripts/encrypt.tcl         sourced by the HDK's create_dcp_from_cl.tcl: gathers the design sources
    build/scripts/synth_cl_tickgate.tcl   sourced by it too: reads the sources and synthesises the CL
    build/constraints/cl_synth_user.xdc, cl_pnr_user.xdc   (no user constraints: one clock, the shell's)

The AFI scripts beside them are `bitstreams.afi`'s, shared with F2.
They target the F1 HDK (aws-fpga `f1_xdma_shell` branch, shell with XDMA) and have not been run here: no
Vivado exists on this machine. Every script stops with a message saying what it needs when it is missing.
"""

from __future__ import annotations

from .cl_top import CL_MODULE, HDK_TEMPLATES

__all__ = ["scripts"]

_BUILD = """\
#!/usr/bin/env bash
# Build the tickgate CL ({config}) into a Design Checkpoint tarball for AFI creation (Vivado, hours).
# Run on a machine with Vivado and the F1 HDK (the FPGA Developer AMI): source aws-fpga/hdk_setup.sh first.
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
export CL_DIR="$(cd "$here/../.." && pwd)"

if ! command -v vivado >/dev/null 2>&1; then
  cat >&2 <<EOF
Vivado is not on PATH: the DCP build needs it. The design, scripts and manifest are ready in
  $CL_DIR
On a machine with Vivado and the aws-fpga F1 HDK (branch f1_xdma_shell), copy that folder and run:
  git clone -b f1_xdma_shell https://github.com/aws/aws-fpga && source aws-fpga/hdk_setup.sh
  $CL_DIR/build/scripts/build.sh
then afi/create_afi.sh <s3-bucket> to make the AFI.
EOF
  exit 3
fi
if [ -z "${{HDK_DIR:-}}" ] || [ -z "${{HDK_SHELL_DIR:-}}" ]; then
  echo "HDK_DIR / HDK_SHELL_DIR are not set: source aws-fpga/hdk_setup.sh first" >&2
  exit 3
fi
cd "$here"
ln -sf "$HDK_DIR/common/shell_stable/build/scripts/aws_build_dcp_from_cl.sh" aws_build_dcp_from_cl.sh
# Clock recipe {recipe}: clk_main_a0 at {mhz:g} MHz.
./aws_build_dcp_from_cl.sh -foreground -clock_recipe_a {recipe} "$@"
ls -1t "$CL_DIR"/build/checkpoints/to_aws/*.Developer_CL.tar | head -1
"""

_ENCRYPT = """\
# Sourced by the HDK's create_dcp_from_cl.tcl: the CL's sources (and the shell's interface files they include)
# into build/src_post_encryption, where synth_{cl}.tcl reads them. tickgate's sources are not encrypted.
set TARGET_DIR $::env(CL_DIR)/build/src_post_encryption
set UNUSED_TEMPLATES_DIR $::env(HDK_SHELL_DESIGN_DIR)/interfaces
file mkdir $TARGET_DIR
foreach f [glob -nocomplain -- $TARGET_DIR/*] {{ file delete -force $f }}
foreach f {{ {core} {top} }} {{ file copy -force $::env(CL_DIR)/design/$f $TARGET_DIR }}
file copy -force $UNUSED_TEMPLATES_DIR/cl_ports.vh $TARGET_DIR
foreach f {{ {templates} }} {{ file copy -force $UNUSED_TEMPLATES_DIR/$f $TARGET_DIR }}
"""

_SYNTH = """\
# Sourced by the HDK's create_dcp_from_cl.tcl after encrypt.tcl: synthesise {cl} out of context.
# Variables from the HDK script: CL_MODULE, timestamp, synth_options, synth_directive, FAAS_CL_DIR.
set src $::env(CL_DIR)/build/src_post_encryption
puts "tickgate: synthesising $CL_MODULE ({config}) from $src"
read_verilog -sv [list $src/{core} $src/{top}]
set_property include_dirs [list $src $::env(HDK_SHELL_DESIGN_DIR)/interfaces \\
  $::env(HDK_SHELL_DESIGN_DIR)/sh_ddr/synth] [current_fileset]
read_xdc $::env(CL_DIR)/build/constraints/cl_synth_user.xdc
set_property PROCESSING_ORDER LATE [get_files cl_synth_user.xdc]
# sh_ddr, which the unused DDR A/B/D template instantiates, and its IP come from the shell
read_verilog -sv [glob $::env(HDK_SHELL_DESIGN_DIR)/sh_ddr/synth/*.?v]
read_ip [list $::env(HDK_DIR)/common/shell_stable/design/ip/ddr4_core/ddr4_core.xci]
synth_design -top $CL_MODULE -verilog_define CL_NAME=$CL_MODULE -part [DEVICE_TYPE] -mode out_of_context \\
  {{*}}$synth_options -directive $synth_directive
write_checkpoint -force $::env(CL_DIR)/build/checkpoints/${{timestamp}}.CL.post_synth.dcp
"""

_XDC = "# tickgate: no {what} constraints of its own; clk_main_a0 is constrained by the shell (recipe {recipe}).\n"


def scripts(config_name: str, *, recipe: str, mhz: float, core: str, top: str) -> dict[str, str]:
    """Path (relative to the CL folder) -> text of every F1 HDK build script of the image."""
    fmt = {"config": config_name, "recipe": recipe, "mhz": mhz, "core": core, "top": top, "cl": CL_MODULE,
           "templates": " ".join(HDK_TEMPLATES)}
    return {
        "build/scripts/build.sh": _BUILD.format(**fmt),
        "build/scripts/encrypt.tcl": _ENCRYPT.format(**fmt),
        f"build/scripts/synth_{CL_MODULE}.tcl": _SYNTH.format(**fmt),
        "build/constraints/cl_synth_user.xdc": _XDC.format(what="synthesis", **fmt),
        "build/constraints/cl_pnr_user.xdc": _XDC.format(what="place-and-route", **fmt),
    }
