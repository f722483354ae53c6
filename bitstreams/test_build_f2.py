"""The F2 build files of `make bitstream` (the default platform): cl_id_defines.vh as the HDK parses it, build.sh
against stand-ins for Vivado and the HDK, and the AFI scripts against a stand-in AWS CLI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tickgate.protocol import f2_map
from tickgate.protocol.registers import MAP_VERSION

from . import build as build_module
from . import cl_sim, hdk_f2
from .configs import CONFIGS
from .manifest import read_manifest
from .platforms import PLATFORMS, get_platform
from .test_build import AFI, AGFI, CORE, _fake_tools

F2 = PLATFORMS["f2"]


@pytest.fixture
def image(tmp_path, monkeypatch) -> dict[str, Path]:
    """The F2 image of the small configuration (its core stubbed: generation is tested here)."""
    monkeypatch.setattr(cl_sim, "core_verilog", lambda config, standin=False, platform="f1": CORE)
    return build_module.generate(CONFIGS["small"], tmp_path / "out")


@pytest.fixture
def cl_dir(image) -> Path:
    return image["manifest"].parent / "cl_tickgate"


def test_image_folder_and_manifest(image, tmp_path):
    folder = image["manifest"].parent
    assert folder == tmp_path / "out" / "f2" / "small"
    rel = sorted(str(p.relative_to(folder)) for p in image.values())
    assert rel == sorted([
        "manifest.json", "cl_tickgate/design/tickgate_core.v", "cl_tickgate/design/cl_tickgate.sv",
        "cl_tickgate/design/cl_id_defines.vh", "cl_tickgate/verif/tickgate_f2_shell.sv",
        "cl_tickgate/build/scripts/build.sh", "cl_tickgate/build/scripts/synth_cl_tickgate.tcl",
        "cl_tickgate/build/constraints/cl_synth_user.xdc", "cl_tickgate/build/constraints/cl_timing_user.xdc",
        "cl_tickgate/build/constraints/small_shell_cl_pnr_user.xdc",
        "cl_tickgate/afi/create_afi.sh", "cl_tickgate/afi/wait_afi.sh", "cl_tickgate/afi/load.sh"])
    m = read_manifest(image["manifest"])
    assert (m["platform"], m["shell"], m["ids"], m["clock_mhz"], m["clock_recipe"]) == (
        "f2", "small_shell", F2.ids, 250.0, None)
    assert set(m["files"]) == {"core", "top", "ids"} and m["map_version"] == MAP_VERSION


def test_cl_id_defines_parse_as_the_hdk_parses_them(cl_dir):
    """aws_build_dcp_from_cl.py's get_pcie_ids(): split()[2], lstrip("32'h"), split("_") -> device/vendor."""
    ids = {}
    for line in (cl_dir / "design" / "cl_id_defines.vh").read_text().splitlines():
        if re.search(r"\s*`define\s*CL_SH_ID0", line):
            ids["device"], ids["vendor"] = (int(x, 16) for x in line.split()[2].lstrip("32'h").split("_"))
        if re.search(r"\s*`define\s*CL_SH_ID1", line):
            ids["subsystem_device"], ids["subsystem_vendor"] = (
                int(x, 16) for x in line.split()[2].lstrip("32'h").split("_"))
    assert ids == F2.ids
    assert ids["device"] in f2_map.CL_DEVICE_IDS and ids["vendor"] == 0x1D0F


def test_platforms():
    assert get_platform("f2").shell == "small_shell" and get_platform("f2").clock_mhz == 250.0
    assert get_platform("f1").clock_mhz is None
    with pytest.raises(KeyError, match="known: f2, f1"):
        get_platform("f3")


def test_build_stops_without_vivado_saying_what_to_run(cl_dir, tmp_path):
    env = _fake_tools(tmp_path / "bin", {})
    out = subprocess.run(["bash", str(cl_dir / "build/scripts/build.sh")], capture_output=True, text=True, env=env)
    assert out.returncode == 3
    assert "Vivado is not on PATH" in out.stderr and "hdk_setup.sh" in out.stderr and "-b f1" not in out.stderr


def test_build_needs_the_hdk_environment(cl_dir, tmp_path):
    env = {**_fake_tools(tmp_path / "bin", {"vivado": "exit 0"}), "HDK_DIR": str(tmp_path)}
    out = subprocess.run(["bash", str(cl_dir / "build/scripts/build.sh")], capture_output=True, text=True, env=env)
    assert out.returncode == 3 and "HDK_SHELL_DIR is not set" in out.stderr


def test_build_runs_the_hdk_script_in_small_shell_mode(cl_dir, tmp_path):
    """With Vivado and an HDK (stand-ins), build.sh links the HDK's common scripts into build/scripts and runs
    aws_build_dcp_from_cl.py --cl cl_tickgate --mode small_shell from there, passing its own arguments on."""
    shell = tmp_path / "hdk" / "common" / "shell_stable"
    scripts = shell / "build" / "scripts"
    scripts.mkdir(parents=True)
    for name in hdk_f2.HDK_COMMON_SCRIPTS:
        (scripts / name).write_text("# HDK stand-in\n")
    (scripts / "aws_build_dcp_from_cl.py").write_text(
        "import os, pathlib, sys\n"
        "cl = pathlib.Path(os.environ['CL_DIR'])\n"
        "assert os.path.realpath(os.environ['CL_DIR']) in os.path.realpath(os.getcwd())\n"
        "(cl / 'hdk-args').write_text(' '.join(sys.argv[1:]))\n"
        "(cl / 'build' / 'checkpoints').mkdir(parents=True, exist_ok=True)\n"
        "(cl / 'build' / 'checkpoints' / '19_01_01-000000.Developer_CL.tar').write_bytes(b'dcp')\n")
    env = {**_fake_tools(tmp_path / "bin", {"vivado": "exit 0"}), "HDK_DIR": str(tmp_path / "hdk"),
           "HDK_SHELL_DIR": str(shell), "HDK_SHELL_DESIGN_DIR": str(shell / "design")}
    out = subprocess.run(["bash", str(cl_dir / "build/scripts/build.sh"), "--flow", "SynthCL"], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert (cl_dir / "hdk-args").read_text().split() == ["--cl", "cl_tickgate", "--mode", "small_shell",
                                                         "--flow", "SynthCL"]
    for name in hdk_f2.HDK_COMMON_SCRIPTS:
        assert (cl_dir / "build/scripts" / name).resolve() == (scripts / name).resolve()
    assert out.stdout.strip().endswith("build/checkpoints/19_01_01-000000.Developer_CL.tar")


def test_synthesis_script_reads_the_design_and_constraints(cl_dir):
    tcl = (cl_dir / "build/scripts/synth_cl_tickgate.tcl").read_text()
    assert "synth_cl_header.tcl" in tcl and "synth_cl_footer.tcl" in tcl
    assert "${src_post_enc_dir}/tickgate_core.v ${src_post_enc_dir}/cl_tickgate.sv" in tcl
    assert "cl_synth_user.xdc" in tcl and "cl_timing_user.xdc" in tcl and "-mode out_of_context" in tcl
    for xdc in ("cl_synth_user.xdc", "cl_timing_user.xdc", "small_shell_cl_pnr_user.xdc"):
        assert (cl_dir / "build/constraints" / xdc).read_text().startswith("# tickgate")


def test_afi_scripts_take_the_f2_tarball_and_a_region(cl_dir, tmp_path):
    tar = cl_dir / "build" / "checkpoints" / "19_01_01-000000.Developer_CL.tar"
    tar.parent.mkdir(parents=True)
    tar.write_bytes(b"dcp")
    log = tmp_path / "calls"
    tools = {
        "aws": f'echo "aws $*" >> {log}\n'
               f'case "$2" in create-fpga-image) echo \'{{"FpgaImageId": "{AFI}", "FpgaImageGlobalId": "{AGFI}"}}\';;\n'
               '  describe-fpga-images) echo available;; esac',
        "sudo": '"$@"',
        "fpga-load-local-image": f'echo "load $*" >> {log}',
        "fpga-describe-local-image": f'echo "describe $*" >> {log}',
    }
    env = _fake_tools(tmp_path / "bin", tools)
    out = subprocess.run(["bash", str(cl_dir / "afi/create_afi.sh"), "my-bucket"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 3 and "set AWS_REGION" in out.stderr  # no region anywhere: says so
    env["AWS_REGION"] = "us-west-2"
    out = subprocess.run(["bash", str(cl_dir / "afi/create_afi.sh"), "my-bucket"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 0, out.stderr
    for script in ("afi/wait_afi.sh", "afi/load.sh"):
        out = subprocess.run(["bash", str(cl_dir / script)], capture_output=True, text=True, env=env)
        assert out.returncode == 0, (script, out.stderr)
    calls = log.read_text().splitlines()
    assert calls[0] == "aws configure get region"
    assert f"aws s3 cp {tar} s3://my-bucket/tickgate/small/dcp/{tar.name}" in calls
    create = next(c for c in calls if "create-fpga-image" in c)
    assert "--region us-west-2" in create and "f2 map v" in create
    assert f"load -S 0 -I {AGFI}" in calls
