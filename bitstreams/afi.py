"""The AFI scripts of an image, for either platform: create the AFI from the DCP tarball, wait for it, load it.

They are written into the image's CL folder beside the HDK build scripts (`bitstreams.hdk_f2`, `hdk_f1`):

    afi/create_afi.sh   tarball to S3, aws ec2 create-fpga-image in a region, ids and region into the manifest
    afi/wait_afi.sh     polls describe-fpga-images (in the AFI's region) until it is available (or failed)
    afi/load.sh         fpga-load-local-image, then fpga-describe-local-image, on the instance

They have not been run against AWS here (no credentials, no instance); tests run them against stand-in tools.
"""

from __future__ import annotations

from .platforms import Platform

__all__ = ["TARBALLS", "scripts"]

#: Where each platform's HDK build leaves its DCP tarball, under the CL folder.
TARBALLS = {"f1": "build/checkpoints/to_aws", "f2": "build/checkpoints"}

_CREATE_AFI = """\
#!/usr/bin/env bash
# Upload the newest DCP tarball to S3, ask for an AFI, write its ids into ../manifest.json.
# Usage: create_afi.sh <s3-bucket> [s3-prefix]   (needs the AWS CLI, credentials with ec2:CreateFpgaImage)
# The AFI is made in $AWS_REGION (else $AWS_DEFAULT_REGION, else the CLI's configured region): a region that
# has {instance} instances. Its AGFI id then works in every region.
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
cl_dir="$(cd "$here/.." && pwd)"
manifest="$cl_dir/../manifest.json"
bucket="${{1:?usage: create_afi.sh <s3-bucket> [s3-prefix]}}"
prefix="${{2:-tickgate/{config}}}"
command -v aws >/dev/null || {{ echo "the AWS CLI (aws) is not on PATH" >&2; exit 3; }}
region="${{AWS_REGION:-${{AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}}}"
[ -n "$region" ] || {{ echo "no AWS region: set AWS_REGION to a region with {instance} instances" >&2; exit 3; }}
tar="$(ls -1t "$cl_dir"/{tarballs}/*.Developer_CL.tar 2>/dev/null | head -1 || true)"
if [ -z "$tar" ]; then
  echo "no DCP tarball under $cl_dir/{tarballs}: run build/scripts/build.sh" >&2; exit 3
fi
aws s3 cp "$tar" "s3://$bucket/$prefix/dcp/$(basename "$tar")"
# the logs folder must exist before create-fpga-image writes into it
placeholder="$cl_dir/{tarballs}/LOGS_FILES_GO_HERE.txt"
echo "tickgate {config}: AFI creation logs" > "$placeholder"
aws s3 cp "$placeholder" "s3://$bucket/$prefix/logs/"
commit="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["git_commit"])' "$manifest")"
out="$(aws ec2 create-fpga-image --name "tickgate-{config}" \\
  --description "tickgate {config} {platform} map v{map_version} git $commit" --region "$region" \\
  --input-storage-location "Bucket=$bucket,Key=$prefix/dcp/$(basename "$tar")" \\
  --logs-storage-location "Bucket=$bucket,Key=$prefix/logs" --output json)"
echo "$out"
python3 - "$manifest" "$out" "$region" <<'PY'
import json, os, sys
path, answer, region = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
m = json.load(open(path))
afi, agfi = answer["FpgaImageId"], answer["FpgaImageGlobalId"]
for key, value in (("afi_id", afi), ("agfi_id", agfi)):
    if m.get(key) not in (None, value):
        sys.exit(f"{{path}} already names {{key}} {{m[key]}}")
    m[key] = value
m["afi_region"] = region  # an AFI id is regional (its AGFI id is not)
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
# an AFI id is regional: ask the region it was made in
region="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("afi_region") or "")' "$manifest")"
region="${{region:-${{AWS_REGION:-${{AWS_DEFAULT_REGION:-}}}}}}"
[ -n "$region" ] || {{ echo "no afi_region in $manifest and no AWS_REGION" >&2; exit 3; }}
while true; do
  state="$(aws ec2 describe-fpga-images --fpga-image-ids "$afi" --region "$region" --query 'FpgaImages[0].State.Code' \\
    --output text)"
  echo "$(date -u +%H:%M:%S) $afi: $state"
  case "$state" in
    available) exit 0 ;;
    failed|unavailable) aws ec2 describe-fpga-images --fpga-image-ids "$afi" --region "$region" \\
      --query 'FpgaImages[0].State'; exit 1 ;;
  esac
  sleep 60
done
"""

_LOAD = """\
#!/usr/bin/env bash
# Load the manifest's AGFI into slot ${{1:-0}} of this {platform_upper} instance and show what the slot holds.
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
manifest="$here/../../manifest.json"
slot="${{1:-0}}"
agfi="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agfi_id"] or "")' "$manifest")"
[ -n "$agfi" ] || {{ echo "no agfi_id in $manifest: run create_afi.sh and wait_afi.sh first" >&2; exit 3; }}
if ! command -v fpga-load-local-image >/dev/null; then
  echo "no fpga-load-local-image: source aws-fpga/sdk_setup.sh (branch {hdk_branch})" >&2; exit 3
fi
sudo fpga-load-local-image -S "$slot" -I "$agfi"
# -R: rescan the PCI bus, so the application function shows the CL's IDs ({ids})
sudo fpga-describe-local-image -S "$slot" -R -H
"""


def scripts(config_name: str, platform: Platform, *, map_version: int) -> dict[str, str]:
    """Path (relative to the CL folder) -> text of the AFI scripts of the image."""
    ids = f"{platform.cl_sh_id0():#010x} {platform.cl_sh_id1():#010x}"
    fmt = {"config": config_name, "platform": platform.name, "platform_upper": platform.name.upper(),
           "instance": platform.name.upper(), "hdk_branch": platform.hdk_branch, "map_version": map_version,
           "ids": ids, "tarballs": TARBALLS[platform.name]}
    return {
        "afi/create_afi.sh": _CREATE_AFI.format(**fmt),
        "afi/wait_afi.sh": _WAIT_AFI.format(**fmt),
        "afi/load.sh": _LOAD.format(**fmt),
    }
