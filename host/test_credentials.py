"""Secrets from a file only its owner can read, or the environment; the command line warns."""

from __future__ import annotations

import pytest

from tickgate.host.cli import main
from tickgate.host.credentials import OUCH_PASSWORD_ENV, UnsafeSecretFile, read_secret_file, resolve_secret


def test_a_secret_file_of_mode_600_is_read(tmp_path):
    f = tmp_path / "pw"
    f.write_text("s3cret\n")
    f.chmod(0o600)
    assert read_secret_file(f) == "s3cret"
    assert resolve_secret(file=f, env_var=OUCH_PASSWORD_ENV, value="cli") == "s3cret"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_a_secret_file_others_may_touch_is_refused(tmp_path, mode):
    f = tmp_path / "pw"
    f.write_text("s3cret\n")
    f.chmod(mode)
    with pytest.raises(UnsafeSecretFile, match=f"chmod 600 {f}"):
        read_secret_file(f)


def test_an_empty_or_special_secret_file_is_refused(tmp_path):
    f = tmp_path / "pw"
    f.write_text("")
    f.chmod(0o600)
    with pytest.raises(ValueError, match="empty secret file"):
        read_secret_file(f)
    with pytest.raises(UnsafeSecretFile, match="regular file"):
        read_secret_file(tmp_path)


def test_environment_before_command_line_which_warns(monkeypatch):
    warn: list[str] = []
    monkeypatch.setenv(OUCH_PASSWORD_ENV, "from-env")
    assert resolve_secret(file=None, env_var=OUCH_PASSWORD_ENV, value="cli", warn=warn) == "from-env" and not warn
    monkeypatch.delenv(OUCH_PASSWORD_ENV)
    assert resolve_secret(file=None, env_var=OUCH_PASSWORD_ENV, value="cli", warn=warn) == "cli"
    assert "visible to every user" in warn[0]


def test_run_refuses_a_world_readable_password_file(tmp_path, capsys):
    f = tmp_path / "pw"
    f.write_text("s3cret\n")
    f.chmod(0o644)
    rc = main(["run", "--feed", "gen:200:4:1", "--backend", "software", "--exchange", "127.0.0.1:1",
               "--ouch-user", "U1", "--ouch-password-file", str(f), "--no-progress"])
    assert rc == 2 and "lets others read or change this secret" in capsys.readouterr().err
