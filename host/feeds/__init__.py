"""Feeds: sources of MoldUDP64 packets (`Packet`) for a backend: files, captures, sockets, generators."""

from .files import BinaryFileFeed, PcapFeed, open_feed, pack_messages
from .packet import Packet

__all__ = ["BinaryFileFeed", "Packet", "PcapFeed", "open_feed", "pack_messages"]
