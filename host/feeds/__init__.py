"""Feeds: sources of MoldUDP64 packets (`Packet`) for a backend: files, captures, sockets, generators.

The file feeds load on first use (they import dpkt, slow to import), so importing `Packet` or `.packing`
stays cheap.
"""

from typing import Any

from tickgate.protocol.packet import Packet

__all__ = ["BinaryFileFeed", "Packet", "PcapFeed", "open_feed", "pack_messages"]


def __getattr__(name: str) -> Any:
    if name in ("BinaryFileFeed", "PcapFeed", "open_feed", "pack_messages"):
        from . import files

        return getattr(files, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
