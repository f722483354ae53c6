"""Ethernet, 802.1Q/802.1ad, IPv4 and UDP headers: every offset, constant and checksum rule, once.

The card's Ethernet front end (`hdl.ethernet_headers`, `hdl.ethernet`), its reference (`model.frontend`) and
the capture reader and writer (`protocol.pcap`) read their offsets and rules from here. Frame layout (T tags,
S = IPv4 start, E = UDP start):

    0   destination MAC (6), source MAC (6)
    12  per tag: TPID (2) + TCI (2); then the Ethernet type (2)
    S = ETH_HEADER_LEN + VLAN_TAG_LEN * T: the IPv4 header (`IPV4`), IHL * 4 bytes with its options
    E = S + IHL * 4: the UDP header (`UDP`), then the payload at E + UDP_HEADER_LEN

One deliberate difference, named here: which VLAN tags are taken. The card (front end and its reference)
takes `VLAN_TPIDS` (802.1Q 0x8100 and 802.1ad 0x88A8, in either position) up to `MAX_VLAN_TAGS` deep,
a bounded header it can decide from fixed beats; anything else is `eth_not_ipv4`. The capture reader
takes `CAPTURE_VLAN_TPIDS` (those and the pre-standard QinQ 0x9100) at any depth: it reads what a capture
holds, off the card, and a frame it decodes that the card would refuse is still counted by the card.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "CAPTURE_VLAN_TPIDS", "ETHERTYPE_IPV4", "ETH_HEADER_LEN", "ETH_TYPE_AT", "IPV4", "IPV4_FRAGMENT_MASK",
    "IPV4_MIN_IHL", "IP_PROTO_TCP", "IP_PROTO_UDP", "MAX_VLAN_TAGS", "UDP", "UDP_HEADER_LEN", "VLAN_TAG_LEN",
    "VLAN_TPIDS", "Field", "ipv4_checksum", "ones_complement_sum",
]


class Field(NamedTuple):
    """A big-endian header field: byte offset from the header's start, size in bytes."""

    offset: int
    size: int

    def read(self, data: bytes | bytearray | memoryview, start: int = 0) -> int:
        """The field's value in `data`, whose header starts at `start` (IndexError past the end)."""
        at = start + self.offset
        if at + self.size > len(data):
            raise IndexError(f"field at {at}..{at + self.size} past the end ({len(data)} bytes)")
        return int.from_bytes(data[at : at + self.size], "big")


ETH_TYPE_AT = 12  # the Ethernet type (or the first tag's TPID)
ETH_HEADER_LEN = 14  # untagged
VLAN_TAG_LEN = 4  # TPID + TCI
ETHERTYPE_IPV4 = 0x0800
VLAN_TPIDS: tuple[int, ...] = (0x8100, 0x88A8)  # what the card takes
MAX_VLAN_TAGS = 2
CAPTURE_VLAN_TPIDS: tuple[int, ...] = (*VLAN_TPIDS, 0x9100)  # what the capture reader takes, at any depth

#: The fixed IPv4 header (options, if IHL > 5, follow up to IHL * 4 bytes).
IPV4: dict[str, Field] = {
    "version_ihl": Field(0, 1),  # version (high nibble), IHL in 32-bit words (low nibble)
    "tos": Field(1, 1),
    "total_length": Field(2, 2),
    "ident": Field(4, 2),
    "flags_fragment": Field(6, 2),  # reserved, DF, MF, 13-bit fragment offset
    "ttl": Field(8, 1),
    "protocol": Field(9, 1),
    "checksum": Field(10, 2),
    "src": Field(12, 4),
    "dst": Field(16, 4),
}
IPV4_MIN_IHL = 5  # 20 bytes
IPV4_FRAGMENT_MASK = 0x3FFF  # more-fragments flag and fragment offset: any set bit is a fragment
IP_PROTO_TCP = 6
IP_PROTO_UDP = 17

UDP: dict[str, Field] = {"src_port": Field(0, 2), "dst_port": Field(2, 2), "length": Field(4, 2),
                         "checksum": Field(6, 2)}
UDP_HEADER_LEN = 8


def ones_complement_sum(data: bytes | bytearray | memoryview) -> int:
    """The 16-bit one's complement sum of `data` (even length), folded: an IPv4 header with its checksum in
    it sums to 0xFFFF when the checksum verifies."""
    if len(data) % 2:
        raise ValueError(f"a one's complement sum takes 16-bit words: {len(data)} bytes")
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ipv4_checksum(header: bytes | bytearray | memoryview) -> int:
    """The checksum to write into `header` (its checksum field zeroed): the complement of the sum."""
    return ~ones_complement_sum(header) & 0xFFFF
