"""QuickFIX session plumbing shared by the FIX gateway (initiator) and the simulator's acceptor.

`FixSessionConfig` is a session as tickgate's command line names it (comp IDs, where to connect or listen,
heartbeat, store and log); `settings()` turns it into the engine's `SessionSettings`, or fills in what a
settings file (`--fix-settings`) leaves out. The FIX data dictionaries come with the `quickfix-py` wheel,
under the environment's `share/quickfix/`.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import quickfix as fix

from tickgate.protocol.fix import BEGIN_STRING

__all__ = ["FixSessionConfig", "data_dictionary", "factories", "first_session", "load_settings"]

GLOBAL_KEYS = ("FileStorePath", "FileLogPath", "ReconnectInterval", "SocketNodelay", "SocketReuseAddress")


def data_dictionary(begin_string: str = BEGIN_STRING) -> Path:
    """The engine's data dictionary of a FIX version (FIX.4.4 -> .../share/quickfix/FIX44.xml)."""
    name = begin_string.replace(".", "").upper() + ".xml"
    roots = [sysconfig.get_path("data"), sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(fix.__file__))]
    for root in roots:
        path = Path(root, "share", "quickfix", name)
        if path.is_file():
            return path
    raise FileNotFoundError(f"no FIX data dictionary {name} under {', '.join(sorted(set(roots)))}/share/quickfix "
                            "(it comes with the quickfix-py wheel)")


@dataclass
class FixSessionConfig:
    """One FIX session. `store`: None keeps sequence numbers and sent messages in memory (reset at the first
    logon, `ResetOnLogon`; a reconnect resumes them and the engine resends a gap); a directory keeps them in files
    there across restarts (no reset: a gap is resent after a restart too).
    `log`: a directory for the engine's message and event logs, or None for none."""

    sender: str = "TICKGATE"
    target: str = "SIMEXCH"
    host: str = "127.0.0.1"
    port: int = 0
    acceptor: bool = False
    heartbeat_s: int = 30
    reconnect_s: int = 1
    store: Path | None = None
    log: Path | None = None
    reset_on_logon: bool | None = None  # None: reset with a memory store, not with a file store

    def session_id(self) -> fix.SessionID:
        return fix.SessionID(BEGIN_STRING, self.sender, self.target)

    def values(self) -> dict[str, str]:
        """The settings of the session, by QuickFIX's names."""
        reset = self.store is None if self.reset_on_logon is None else self.reset_on_logon
        v = {"ConnectionType": "acceptor" if self.acceptor else "initiator", "BeginString": BEGIN_STRING,
             "SenderCompID": self.sender, "TargetCompID": self.target, "StartTime": "00:00:00",
             "EndTime": "00:00:00", "HeartBtInt": str(self.heartbeat_s), "ReconnectInterval": str(self.reconnect_s),
             "UseDataDictionary": "Y", "DataDictionary": str(data_dictionary()), "ResetOnLogon": "YN"[not reset],
             "SocketNodelay": "Y", "LogonTimeout": "5", "LogoutTimeout": "2"}
        if self.acceptor:
            v |= {"SocketAcceptPort": str(self.port), "SocketReuseAddress": "Y"}
        else:
            v |= {"SocketConnectHost": self.host, "SocketConnectPort": str(self.port)}
        if self.store is not None:
            v["FileStorePath"] = str(self.store)
        if self.log is not None:
            v["FileLogPath"] = str(self.log)
        return v

    def add_to(self, settings: fix.SessionSettings) -> fix.SessionSettings:
        """Add this session to `settings` (an acceptor serves many)."""
        d = fix.Dictionary()
        for key, value in self.values().items():
            d.setString(key, value)
        settings.set(self.session_id(), d)
        return settings

    def settings(self, base: fix.SessionSettings | None = None) -> fix.SessionSettings:
        """The engine's settings of this session; with `base` (a settings file's), only what it leaves out."""
        if base is None:
            return self.add_to(fix.SessionSettings())
        sid = first_session(base)
        d = base.get(sid)  # the file's session, its [DEFAULT] merged in
        for key, value in self.values().items():
            if not d.has(key):
                d.setString(key, value)
        settings = fix.SessionSettings()
        settings.set(base.get())
        settings.set(sid, d)
        return settings


def first_session(settings: fix.SessionSettings) -> fix.SessionID:
    """The one session a settings file is expected to hold."""
    sessions = list(settings.getSessions())
    if len(sessions) != 1:
        raise ValueError(f"a FIX settings file for tickgate holds one [SESSION], not {len(sessions)}")
    return sessions[0]


def load_settings(path: str | Path) -> fix.SessionSettings:
    """A QuickFIX settings file, with a clear error when the engine refuses it."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"FIX settings file {path} does not exist")
    try:
        return fix.SessionSettings(str(path))
    except fix.ConfigError as exc:
        raise ValueError(f"FIX settings file {path}: {exc}") from exc


def factories(settings: fix.SessionSettings, sid: fix.SessionID) -> tuple[object, object]:
    """(store factory, log factory): files where the session's settings name a path, else memory and silence.
    Settings the engine reads from [DEFAULT] alone are copied there from the session's."""
    d = settings.get(sid)
    defaults = settings.get()
    for key in GLOBAL_KEYS:  # the engine reads these from [DEFAULT] only (its global log, its reconnect timer)
        if d.has(key) and not defaults.has(key):
            defaults.setString(key, d.getString(key))
    settings.set(defaults)
    for key in ("FileStorePath", "FileLogPath"):
        if d.has(key):
            Path(d.getString(key)).mkdir(parents=True, exist_ok=True)
    store = fix.FileStoreFactory(settings) if d.has("FileStorePath") else fix.MemoryStoreFactory()
    log = fix.FileLogFactory(settings) if d.has("FileLogPath") else fix.ScreenLogFactory(False, False, False)
    return store, log
