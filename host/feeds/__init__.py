"""Feeds: sources of MoldUDP64 packets (`Packet`) for a backend: files, captures, sockets, generators."""

from tickgate.protocol.packet import Packet

from .files import BinaryFileFeed, PcapFeed, open_feed, pack_messages

__all__ = ["BinaryFileFeed", "Packet", "PcapFeed", "open_feed", "pack_messages"]
