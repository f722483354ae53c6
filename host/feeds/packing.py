"""The MoldUDP64 packing parameters of the file feeds, checked once: the default session and payload size.

Apart from `files.py` (which imports the capture reader, and with it dpkt) so the native reader's callers
can use them cheaply."""

from __future__ import annotations

from tickgate.protocol import moldudp64

__all__ = ["DEFAULT_MAX_PAYLOAD", "DEFAULT_SESSION", "MAX_UDP_PAYLOAD", "check_max_payload", "session_bytes"]

DEFAULT_SESSION = b"TICKGATE01"
DEFAULT_MAX_PAYLOAD = 1400
MAX_UDP_PAYLOAD = 65507


def session_bytes(session: bytes | str) -> bytes:
    """The 10-byte, space-padded session field (validated by the MoldUDP64 codec)."""
    return moldudp64.heartbeat(session, 0)[:10]


def check_max_payload(max_payload: int) -> None:
    """ValueError unless a packet of `max_payload` bytes holds a header and a one-byte message."""
    if not moldudp64.HEADER_LEN + 3 <= max_payload <= MAX_UDP_PAYLOAD:
        lo = moldudp64.HEADER_LEN + 3
        raise ValueError(f"max_payload must be {lo}..{MAX_UDP_PAYLOAD}, got {max_payload}")
