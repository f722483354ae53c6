"""The AWS F1 HDK scripts of an image: Vivado build around aws_build_dcp_from_cl.sh, AFI creation, wait, load.

They are written into the image's CL folder (`build/bitstream/<config>/cl_tickgate/`, the HDK's `CL_DIR`):

    build/scripts/build.sh            checks Vivado and the HDK environment, runs aws_build_dcp_from_cl.sh (A1)
    build/scripts/encrypt.tcl         sourced by the HDK's create_dcp_from_cl.tcl: gathers the design sources
    build/scripts/synth_cl_tickgate.tcl   sourced by it too: reads the sources and synthesises the CL
    build/constraints/cl_synth_user.xdc, cl_pnr_user.xdc   (no user constraints: one clock, the shell's)
    afi/create_afi.sh                 tarball to S3, aws ec2 create-fpga-image, ids into the manifest
    afi/wait_afi.sh                   polls describe-fpga-images until the AFI is available (or failed)
    afi/load.sh                       fpga-load-local-image, then fpga-describe-local-image

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

_CREATE_AFI = """\
#!/usr/bin/env bash
# Upload the newest DCP tarball to S3, ask for an AFI, write its ids into ../manifest.json.
# Usage: create_afi.sh <s3-bucket> [s3-prefix]   (needs the AWS CLI, credentials with ec2:CreateFpgaImage)
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
cl_dir="$(cd "$here/.." && pwd)"
manifest="$cl_dir/../manifest.json"
bucket="${{1:?usage: create_afi.sh <s3-bucket> [s3-prefix]}}"
prefix="${{2:-tickgate/{config}}}"
command -v aws >/dev/null || {{ echo "the AWS CLI (aws) is not on PATH" >&2; exit 3; }}
tar="$(ls -1t "$cl_dir"/build/checkpoints/to_aws/*.Developer_CL.tar 2>/dev/null | head -1 || true)"
if [ -z "$tar" ]; then
  echo "no DCP tarball under $cl_dir/build/checkpoints/to_aws: run build/scripts/build.sh" >&2; exit 3
fi
aws s3 cp "$tar" "s3://$bucket/$prefix/dcp/$(basename "$tar")"
# the logs folder must exist before create-fpga-image writes into it
placeholder="$cl_dir/build/checkpoints/to_aws/LOGS_FILES_GO_HERE.txt"
echo "tickgate {config}: AFI creation logs" > "$placeholder"
aws s3 cp "$placeholder" "s3://$bucket/$prefix/logs/"
commit="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["git_commit"])' "$manifest")"
out="$(aws ec2 create-fpga-image --name "tickgate-{config}" \\
  --description "tickgate {config} map v{map_version} git $commit" \\
  --input-storage-location "Bucket=$bucket,Key=$prefix/dcp/$(basename "$tar")" \\
  --logs-storage-location "Bucket=$bucket,Key=$prefix/logs" --output json)"
echo "$out"
python3 - "$manifest" "$out" <<'PY'
import json, os, sys
path, answer = sys.argv[1], json.loads(sys.argv[2])
m = json.load(open(path))
afi, agfi = answer["FpgaImageId"], answer["FpgaImageGlobalId"]
for key, value in (("afi_id", afi), ("agfi_id", agfi)):
    if m.get(key) not in (None, value):
        sys.exit(f"{{path}} already names {{key}} {{m[key]}}")
    m[key] = value
tmp = path + ".tmp"
open(tmp, "w").write(json.dumps(m, indent=1) + "\\n")
os.replace(tmp, path)
print(f"manifest: afi_id {{afi}}, agfi_id {{agfi}}")
PY
echo "next: $here/wait_afi.sh"
"""

_WAIT_AFI = """\
#!/usr/bin/env bash
# Wait until the manifest's AFI is available (AFI creation takes about an hour); exit 1 if it failed.
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
manifest="$here/../../manifest.json"
afi="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["afi_id"] or "")' "$manifest")"
[ -n "$afi" ] || {{ echo "no afi_id in $manifest: run create_afi.sh first" >&2; exit 3; }}
while true; do
  state="$(aws ec2 describe-fpga-images --fpga-image-ids "$afi" --query 'FpgaImages[0].State.Code' --output text)"
  echo "$(date -u +%H:%M:%S) $afi: $state"
  case "$state" in
    available) exit 0 ;;
    failed|unavailable) aws ec2 describe-fpga-images --fpga-image-ids "$afi" --query 'FpgaImages[0].State'; exit 1 ;;
  esac
  sleep 60
done
"""

_LOAD = """\
#!/usr/bin/env bash
# Load the manifest's AGFI into slot ${{1:-0}} of this F1 instance and show what the slot holds.
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
manifest="$here/../../manifest.json"
slot="${{1:-0}}"
agfi="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agfi_id"] or "")' "$manifest")"
[ -n "$agfi" ] || {{ echo "no agfi_id in $manifest: run create_afi.sh and wait_afi.sh first" >&2; exit 3; }}
if ! command -v fpga-load-local-image >/dev/null; then
  echo "no fpga-load-local-image: source aws-fpga/sdk_setup.sh" >&2; exit 3
fi
sudo fpga-load-local-image -S "$slot" -I "$agfi"
# -R: rescan the PCI bus, so the application function shows the CL's IDs ({ids})
sudo fpga-describe-local-image -S "$slot" -R -H
"""

_XDC = "# tickgate: no {what} constraints of its own; clk_main_a0 is constrained by the shell (recipe {recipe}).\n"


def scripts(config_name: str, *, recipe: str, mhz: float, core: str, top: str, map_version: int,
            ids: str) -> dict[str, str]:
    """Path (relative to the CL folder) -> text of every HDK script of the image."""
    fmt = {"config": config_name, "recipe": recipe, "mhz": mhz, "core": core, "top": top, "cl": CL_MODULE,
           "templates": " ".join(HDK_TEMPLATES), "map_version": map_version, "ids": ids}
    return {
        "build/scripts/build.sh": _BUILD.format(**fmt),
        "build/scripts/encrypt.tcl": _ENCRYPT.format(**fmt),
        f"build/scripts/synth_{CL_MODULE}.tcl": _SYNTH.format(**fmt),
        "build/constraints/cl_synth_user.xdc": _XDC.format(what="synthesis", **fmt),
        "build/constraints/cl_pnr_user.xdc": _XDC.format(what="place-and-route", **fmt),
        "afi/create_afi.sh": _CREATE_AFI.format(**fmt),
        "afi/wait_afi.sh": _WAIT_AFI.format(**fmt),
        "afi/load.sh": _LOAD.format(**fmt),
    }
