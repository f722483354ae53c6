"""What every feed yields: one MoldUDP64 packet with its receive time."""

from __future__ import annotations

from typing import NamedTuple


class Packet(NamedTuple):
    """A MoldUDP64 downstream packet (the UDP payload) and when it was received, in ns (0 if unknown)."""

    payload: bytes
    rx_ns: int = 0
