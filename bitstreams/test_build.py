"""`make bitstream`'s generation: the image folder, the CL top's shell conventions, the manifest, and the HDK/AFI
scripts run against stand-ins for Vivado-less machines and for the AWS tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tickgate.protocol.f1_map import APP_DEVICE_ID, APP_SUBSYSTEM_ID, APP_VENDOR_ID, cl_sh_id0, cl_sh_id1
from tickgate.protocol.registers import ID_MAGIC, MAP_VERSION

from . import build as build_module
from . import cl_sim
from .cl_top import HDK_TEMPLATES, VLED_BITS, cl_top
from .configs import CONFIGS
from .manifest import make_manifest, read_manifest, set_ids, write_manifest

AFI, AGFI = "afi-0123456789abcdef0", "agfi-0fedcba9876543210"
CORE = "module tickgate_core (input clk);\nendmodule\n"  # generation is tested here, not Amaranth


@pytest.fixture
def image(tmp_path, monkeypatch) -> dict[str, Path]:
    """The legacy F1 image of the small configuration (its core stubbed: generation is tested here)."""
    monkeypatch.setattr(cl_sim, "core_verilog", lambda config, standin=False, platform="f1": CORE)
    return build_module.generate(CONFIGS["small"], tmp_path / "out", platform="f1")


def _fake_tools(folder: Path, tools: dict[str, str]) -> dict[str, str]:
    """An environment whose PATH has only `tools` (name -> bash body) and the basics."""
    folder.mkdir()
    for name, body in tools.items():
        (folder / name).write_text(f"#!/bin/bash\n{body}\n")
        (folder / name).chmod(0o755)
    basics = folder / "basics"
    basics.mkdir()
    (basics / "python3").symlink_to(sys.executable)
    for tool in ("bash", "ls", "head", "date", "sleep", "dirname", "basename", "cat", "ln", "env", "mkdir",
                 "touch"):
        path = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        if path:
            (basics / tool).symlink_to(path)
    return {"PATH": f"{folder}:{basics}", "HOME": str(folder)}


def test_image_folder(image):
    folder = image["manifest"].parent
    rel = sorted(str(p.relative_to(folder)) for p in image.values())
    assert rel == sorted([
        "manifest.json", "cl_tickgate/design/tickgate_core.v", "cl_tickgate/design/cl_tickgate.sv",
        "cl_tickgate/verif/tickgate_f1_shell.sv", "cl_tickgate/build/scripts/build.sh",
        "cl_tickgate/build/scripts/encrypt.tcl", "cl_tickgate/build/scripts/synth_cl_tickgate.tcl",
        "cl_tickgate/build/constraints/cl_synth_user.xdc", "cl_tickgate/build/constraints/cl_pnr_user.xdc",
        "cl_tickgate/afi/create_afi.sh", "cl_tickgate/afi/wait_afi.sh", "cl_tickgate/afi/load.sh"])
    for path in image.values():
        if path.suffix == ".sh":
            assert os.access(path, os.X_OK), path
    assert "-clock_recipe_a A1" in image["build/scripts/build.sh"].read_text()


def test_cl_top_conventions():
    text = cl_top("small")
    assert '`include "cl_ports.vh"' in text
    assert f"assign cl_sh_id0 = 32'h{cl_sh_id0() >> 16:04X}_{cl_sh_id0() & 0xFFFF:04X};" in text
    assert f"assign cl_sh_id1 = 32'h{cl_sh_id1() >> 16:04X}_{cl_sh_id1() & 0xFFFF:04X};" in text
    assert f"32'h{ID_MAGIC >> 16:04X}_{ID_MAGIC & 0xFFFF:04X}" in text and f"32'd{MAP_VERSION};" in text
    assert "~rst_main_n | sh_cl_flr_assert" in text and ".rst(rst_pipe[1])" in text
    assert ".ocl__awaddr(sh_ocl_awaddr)" in text and ".ocl__rdata(ocl_sh_rdata)" in text
    assert ".pcis__wdata(sh_cl_dma_pcis_wdata)" in text and ".pcis__rdata(cl_sh_dma_pcis_rdata)" in text
    for template in HDK_TEMPLATES:
        assert f'`include "{template}"' in text
    assert "unused_sh_ocl_template" not in text and "unused_dma_pcis_template" not in text
    assert len(VLED_BITS) <= 16


def test_manifest_fields_and_ids(image, tmp_path):
    path = image["manifest"]
    m = read_manifest(path)
    assert m["ids"] == {"vendor": APP_VENDOR_ID, "device": APP_DEVICE_ID, "subsystem_vendor": APP_VENDOR_ID,
                        "subsystem_device": APP_SUBSYSTEM_ID}
    assert (m["map_version"], m["afi_id"], m["agfi_id"]) == (MAP_VERSION, None, None)
    assert m["config"] == CONFIGS["small"].as_dict() and m["clock_mhz"] == 250.0
    assert (m["platform"], m["shell"], m["format"]) == ("f1", "F1 XDMA shell", 2)
    assert m["git_commit"] is None or len(m["git_commit"]) == 40
    assert set(m["files"]) == {"core", "top"} and all(len(h) == 64 for h in m["files"].values())
    set_ids(path, AFI, AGFI)
    assert (read_manifest(path)["afi_id"], read_manifest(path)["agfi_id"]) == (AFI, AGFI)
    set_ids(path, AFI, AGFI)  # the same ids again: fine
    with pytest.raises(ValueError, match="already names"):
        set_ids(path, "afi-11111111111111111", AGFI)
    with pytest.raises(ValueError, match="not an id"):
        set_ids(path, "agfi-0123456789abcdef0", AGFI)
    bad = tmp_path / "bad.json"
    write_manifest(bad, {k: v for k, v in m.items() if k != "map_version"})
    with pytest.raises(ValueError, match="lacks map_version"):
        read_manifest(bad)


def test_regenerating_keeps_a_manifest_with_an_afi_aside(image, tmp_path, monkeypatch):
    set_ids(image["manifest"], AFI, AGFI)
    monkeypatch.setattr(cl_sim, "core_verilog", lambda config, standin=False, platform="f1": CORE)
    again = build_module.generate(CONFIGS["small"], tmp_path / "out", platform="f1")
    assert read_manifest(again["manifest"])["afi_id"] is None
    assert read_manifest(again["manifest"].with_name(f"manifest.{AFI}.json"))["afi_id"] == AFI


def test_build_stops_without_vivado_saying_what_to_run(image, tmp_path):
    env = _fake_tools(tmp_path / "bin", {})
    out = subprocess.run(["bash", str(image["build/scripts/build.sh"])], capture_output=True, text=True, env=env)
    assert out.returncode == 3
    assert "Vivado is not on PATH" in out.stderr and "hdk_setup.sh" in out.stderr and "create_afi.sh" in out.stderr


def test_build_runs_the_hdk_script_with_recipe_a1(image, tmp_path):
    """With a Vivado and an HDK (stand-ins), build.sh runs aws_build_dcp_from_cl.sh -foreground -clock_recipe_a A1."""
    hdk = tmp_path / "hdk"
    script = hdk / "common" / "shell_stable" / "build" / "scripts" / "aws_build_dcp_from_cl.sh"
    script.parent.mkdir(parents=True)
    script.write_text('#!/bin/bash\necho "$@" > "$CL_DIR/hdk-args"\nmkdir -p "$CL_DIR/build/checkpoints/to_aws"\n'
                      'touch "$CL_DIR/build/checkpoints/to_aws/19_01_01-000000.Developer_CL.tar"\n')
    script.chmod(0o755)
    env = {**_fake_tools(tmp_path / "bin", {"vivado": "exit 0"}), "HDK_DIR": str(hdk), "HDK_SHELL_DIR": str(hdk)}
    out = subprocess.run(["bash", str(image["build/scripts/build.sh"])], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    cl_dir = image["build/scripts/build.sh"].parents[2]
    assert (cl_dir / "hdk-args").read_text().split() == ["-foreground", "-clock_recipe_a", "A1"]
    assert out.stdout.strip().endswith("19_01_01-000000.Developer_CL.tar")


def test_afi_scripts_against_a_fake_aws(image, tmp_path):
    """create_afi.sh uploads and records the ids; wait_afi.sh polls until available; load.sh loads the agfi."""
    cl_dir = image["build/scripts/build.sh"].parents[2]
    tar = cl_dir / "build" / "checkpoints" / "to_aws" / "19_01_01-000000.Developer_CL.tar"
    tar.parent.mkdir(parents=True)
    tar.write_bytes(b"dcp")
    log = tmp_path / "calls"
    env = _fake_tools(tmp_path / "bin", {
        "aws": f'echo "aws $*" >> {log}\n'
               f'case "$2" in create-fpga-image) echo \'{{"FpgaImageId": "{AFI}", "FpgaImageGlobalId": "{AGFI}"}}\';;\n'
               '  describe-fpga-images) echo available;; esac',
        "sudo": '"$@"',
        "fpga-load-local-image": f'echo "load $*" >> {log}',
        "fpga-describe-local-image": f'echo "describe $*" >> {log}',
    })
    env["AWS_REGION"] = "us-east-1"
    out = subprocess.run(["bash", str(image["afi/create_afi.sh"]), "my-bucket"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 0, out.stderr
    m = read_manifest(image["manifest"])
    assert (m["afi_id"], m["agfi_id"], m["afi_region"]) == (AFI, AGFI, "us-east-1")
    del env["AWS_REGION"]  # wait_afi.sh asks the AFI's own region, from the manifest
    for script in ("afi/wait_afi.sh", "afi/load.sh"):
        out = subprocess.run(["bash", str(image[script])], capture_output=True, text=True, env=env)
        assert out.returncode == 0, (script, out.stderr)
    calls = log.read_text().splitlines()
    assert calls[0] == f"aws s3 cp {tar} s3://my-bucket/tickgate/small/dcp/{tar.name}"
    create = next(c for c in calls if "create-fpga-image" in c)
    assert f"Key=tickgate/small/dcp/{tar.name}" in create and "--name tickgate-small" in create
    assert "--region us-east-1" in create
    assert f"load -S 0 -I {AGFI}" in calls and "describe -S 0 -R -H" in calls
    assert any(f"describe-fpga-images --fpga-image-ids {AFI} --region us-east-1" in c for c in calls)


def test_manifest_cli(image, capsys):
    from .manifest import main

    assert main(["set-ids", str(image["manifest"]), "--afi", AFI, "--agfi", AGFI]) == 0
    assert json.loads(capsys.readouterr().out)["agfi_id"] == AGFI
    assert main(["show", str(image["manifest"])]) == 0
    assert main(["set-ids", str(image["manifest"]), "--afi", "afi-x", "--agfi", AGFI]) == 1


def test_make_manifest_hashes_files(tmp_path):
    f = tmp_path / "a.v"
    f.write_text("x")
    m = make_manifest(CONFIGS["default"], {"core": f})
    assert m["files"] == {"core": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}


def test_estimate_takes_configurations(capsys):
    from .estimate import config_top, main

    name, factory = config_top("small")
    assert name == "cl_f2_small" and callable(factory)
    name, factory = config_top("small", platform="f1")
    assert name == "cl_f1_small" and callable(factory)
    with pytest.raises(KeyError, match="known: default, small, large"):
        config_top("nope")
    with pytest.raises(SystemExit):
        main(["--config", "nope"])
    assert "unknown configuration nope" in capsys.readouterr().err
