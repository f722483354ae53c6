"""The AWS F2 HDK build files of an image: small-shell DCP build around aws_build_dcp_from_cl.py.

They are written into the image's CL folder (`build/bitstream/f2/<config>/cl_tickgate/`, the HDK's `CL_DIR`):

    build/scripts/build.sh                checks Vivado and the HDK environment, links the HDK's common scripts,
                                          runs aws_build_dcp_from_cl.py -c cl_tickgate --mode small_shell
    build/scripts/synth_cl_tickgate.tcl   sourced by the HDK's build_all.tcl between its header and footer
    build/constraints/cl_synth_user.xdc, cl_timing_user.xdc, small_shell_cl_pnr_user.xdc

The design files beside them (`design/`: the core, the CL top and its cl_id_defines.vh, `bitstreams.cl_top_f2`)
are `bitstreams.build`'s. The HDK's own encrypt.tcl copies `design/` and the shell's interface
files into build/src_post_encryption, which the synthesis script reads. They target aws-fpga's default branch
(the F2 kit, Vivado 2024.1 to 2025.2, checked by its hdk_setup.sh) and have not been run here: no Vivado exists
on this machine. Every script stops with a message saying what it needs when it is missing.
"""

from __future__ import annotations

__all__ = ["HDK_COMMON_SCRIPTS", "scripts"]

#: The HDK's common scripts the CL's build/scripts folder links to (as its CL_TEMPLATE does).
HDK_COMMON_SCRIPTS = ("aws_build_dcp_from_cl.py", "build_all.tcl", "build_level_1_cl.tcl", "encrypt.tcl")


_BUILD = """\
#!/usr/bin/env bash
# Build the tickgate CL ({config}) for AWS F2 into a DCP tarball for AFI creation (Vivado, hours).
# Run on a machine with Vivado and the aws-fpga F2 HDK (the FPGA Developer AMI): source aws-fpga/hdk_setup.sh.
# Arguments go to aws_build_dcp_from_cl.py (e.g. --flow SynthCL for synthesis only).
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
export CL_DIR="$(cd "$here/../.." && pwd)"

if ! command -v vivado >/dev/null 2>&1; then
  cat >&2 <<EOF
Vivado is not on PATH: the DCP build needs it. The design, scripts and manifest are ready in
  $CL_DIR
On a machine with Vivado (2024.1 to 2025.2) and the aws-fpga F2 HDK, copy that folder and run:
  git clone https://github.com/aws/aws-fpga && source aws-fpga/hdk_setup.sh
  $CL_DIR/build/scripts/build.sh
then afi/create_afi.sh <s3-bucket> to make the AFI.
EOF
  exit 3
fi
for var in HDK_DIR HDK_SHELL_DIR HDK_SHELL_DESIGN_DIR; do
  if [ -z "${{!var:-}}" ]; then
    echo "$var is not set: source aws-fpga/hdk_setup.sh first" >&2
    exit 3
  fi
done
cd "$here"
for f in {common}; do
  ln -sf "$HDK_SHELL_DIR/build/scripts/$f" "$f"
done
python3 ./aws_build_dcp_from_cl.py --cl {cl} --mode small_shell "$@"
ls -1t "$CL_DIR"/build/checkpoints/*.Developer_CL.tar | head -1
"""

_SYNTH = """\
# Sourced by the HDK's build_all.tcl: synthesise {cl} ({config}) out of context for the F2 small shell.
# Variables from the HDK: CL, DEVICE_TYPE, src_post_enc_dir, constraints_dir, HDK_SHELL_DIR.
source ${{HDK_SHELL_DIR}}/build/scripts/synth_cl_header.tcl

print "tickgate: reading {core}, {top} ({config})"
read_verilog -sv [list ${{src_post_enc_dir}}/{core} ${{src_post_enc_dir}}/{top}]
set_property include_dirs [list ${{src_post_enc_dir}}] [current_fileset]

print "tickgate: reading user constraints"
read_xdc [list ${{constraints_dir}}/cl_synth_user.xdc ${{constraints_dir}}/cl_timing_user.xdc]
set_property PROCESSING_ORDER LATE [get_files cl_synth_user.xdc]
set_property PROCESSING_ORDER LATE [get_files cl_timing_user.xdc]

print "tickgate: synthesising ${{CL}}"
update_compile_order -fileset sources_1
synth_design -mode out_of_context -top ${{CL}} -verilog_define XSDB_SLV_DIS -part ${{DEVICE_TYPE}} \\
  -keep_equivalent_registers

source ${{HDK_SHELL_DIR}}/build/scripts/synth_cl_footer.tcl
"""

_XDC = ("# tickgate ({config}): no {what} constraints of its own. Everything runs on clk_main_a0 (250 MHz, fixed\n"
        "# by the F2 shell, which constrains it); the CL's logic depth is checked by `make timing`.\n")


def scripts(config_name: str, *, core: str, top: str) -> dict[str, str]:
    """Path (relative to the CL folder) -> text of every F2 HDK build file of the image."""
    from .cl_top import CL_MODULE

    fmt = {"config": config_name, "core": core, "top": top, "cl": CL_MODULE, "common": " ".join(HDK_COMMON_SCRIPTS)}
    return {
        "build/scripts/build.sh": _BUILD.format(**fmt),
        f"build/scripts/synth_{CL_MODULE}.tcl": _SYNTH.format(**fmt),
        "build/constraints/cl_synth_user.xdc": _XDC.format(what="synthesis", **fmt),
        "build/constraints/cl_timing_user.xdc": _XDC.format(what="timing", **fmt),
        "build/constraints/small_shell_cl_pnr_user.xdc": _XDC.format(what="place-and-route", **fmt),
    }
