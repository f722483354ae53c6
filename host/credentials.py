"""Secrets for the host (the SoupBinTCP password): from a file only its owner can read, or the environment.

A secret on the command line is visible to every user in the process list and stays in the shell's history,
so the CLI takes it from `--ouch-password-file FILE` (refused when group or others may read or write it) or
`$TICKGATE_OUCH_PASSWORD`; `--ouch-password` still works and says why not to use it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["OUCH_PASSWORD_ENV", "UnsafeSecretFile", "read_secret_file", "resolve_secret"]

OUCH_PASSWORD_ENV = "TICKGATE_OUCH_PASSWORD"


class UnsafeSecretFile(PermissionError):
    """A secret file that others may read or write."""


def read_secret_file(path: Path | str) -> str:
    """The secret in `path` (its first line); UnsafeSecretFile if its mode lets group or others in, or if it
    is not a regular file owned by this user."""
    path = Path(path)
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeSecretFile(f"{path}: a secret file must be a regular file")
    if st.st_mode & 0o077:
        raise UnsafeSecretFile(f"{path}: mode {stat.filemode(st.st_mode)} lets others read or change this secret; "
                               f"chmod 600 {path}")
    if st.st_uid != os.getuid():
        raise UnsafeSecretFile(f"{path}: owned by uid {st.st_uid}, not by this user ({os.getuid()})")
    lines = path.read_text().splitlines()
    if not lines or not lines[0]:
        raise ValueError(f"{path}: empty secret file")
    return lines[0]


def resolve_secret(*, file: Path | str | None, env_var: str, value: str | None,
                   warn: list[str] | None = None) -> str | None:
    """The secret from `file`, else `$env_var`, else the command-line `value` (a warning appended to `warn`)."""
    if file is not None:
        return read_secret_file(file)
    if os.environ.get(env_var):
        return os.environ[env_var]
    if value and warn is not None:
        warn.append(f"a password on the command line is visible to every user (ps) and kept in shell history: "
                    f"use a file of mode 600 or ${env_var}")
    return value
