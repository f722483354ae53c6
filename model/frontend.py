"""The Ethernet / 802.1Q / IPv4 / UDP front end of a network-attached card, as a reference.

A frame (no preamble, no FCS) goes in; its UDP payload (one MoldUDP64 packet) comes out, or nothing.
Every frame is counted in `eth_frames` and in exactly one of `eth_passed` or a drop reason, so
`eth_frames == eth_passed + sum(drop reasons)` always.

Checks, in this order; the first that fails decides (`CHECK_ORDER`):

1. `eth_not_ipv4`        the Ethernet type, after zero, one or two 802.1Q/802.1ad tags (TPID 0x8100 or
                         0x88A8 in either position: `protocol.net_headers.VLAN_TPIDS`), is not 0x0800.
2. `eth_bad_ip_header`   IPv4 version is not 4, or IHL < 5, or total length < IHL*4 + 8.
3. `eth_bad_ip_checksum` the header checksum (over IHL*4 bytes, options included) does not verify.
4. `eth_ip_fragment`     more-fragments set or a fragment offset (a first, middle or last fragment).
5. `eth_not_udp`         protocol is not 17.
6. `eth_wrong_address`   destination address is not the configured one (when one is configured).
7. `eth_wrong_port`      UDP destination port is not the configured one (when one is configured).
8. `eth_bad_udp_length`  UDP length is not IPv4 total length - IHL*4, or is 8 (an empty datagram
                         carries no MoldUDP64 packet).
9. `eth_truncated`       the frame ends before the UDP payload does (before IPv4 total length).

Short frames: a frame that ends before a header field that a check reads is counted `eth_truncated` at
that check (e.g. 20 bytes with type 0x0806 are `eth_not_ipv4`; 20 bytes with type 0x0800 are
`eth_truncated`). Bytes past the IPv4 total length (Ethernet padding) are ignored.

Truncated payloads: the gateware streams the payload through (cut-through), so when a frame ends inside
its UDP payload the bytes already received have been passed on: the output packet ends there, short,
and the frame counts `eth_truncated` (not `eth_passed`). The MoldUDP64 stage sees a short packet and
counts it malformed. `frame()` returns those bytes, or None when there are none.
"""

from __future__ import annotations

import ipaddress

from tickgate.protocol.net_headers import (
    ETH_TYPE_AT,
    ETHERTYPE_IPV4,
    IP_PROTO_UDP,
    IPV4,
    IPV4_FRAGMENT_MASK,
    IPV4_MIN_IHL,
    MAX_VLAN_TAGS,
    UDP,
    UDP_HEADER_LEN,
    VLAN_TAG_LEN,
    VLAN_TPIDS,
    Field,
    ones_complement_sum,
)
from tickgate.protocol.registers import counter_names

__all__ = ["CHECK_ORDER", "ETH_COUNTERS", "ReferenceFrontEnd"]

ETH_COUNTERS: tuple[str, ...] = tuple(n for n in counter_names() if n.startswith("eth_"))
CHECK_ORDER: tuple[str, ...] = (
    "eth_not_ipv4", "eth_bad_ip_header", "eth_bad_ip_checksum", "eth_ip_fragment", "eth_not_udp",
    "eth_wrong_address", "eth_wrong_port", "eth_bad_udp_length", "eth_truncated",
)


class _Short(Exception):
    """The frame ends before a byte a check reads."""


class _Bytes:
    """Big-endian reads from a frame that raise `_Short` past its end."""

    def __init__(self, frame: bytes) -> None:
        self.frame = frame

    def get(self, offset: int, size: int) -> int:
        if offset + size > len(self.frame):
            raise _Short
        return int.from_bytes(self.frame[offset : offset + size], "big")

    def field(self, field: Field, start: int) -> int:
        """`field` of the header that starts at `start`."""
        return self.get(start + field.offset, field.size)

    def span(self, start: int, end: int) -> bytes:
        if end > len(self.frame):
            raise _Short
        return self.frame[start:end]


class ReferenceFrontEnd:
    """Filters Ethernet frames and yields their UDP payloads; `counters` holds the `eth_*` counters.

    `dst_ip` (dotted string or int) and `dst_port`, when given, are the only destination accepted.
    """

    def __init__(self, dst_ip: str | int | None = None, dst_port: int | None = None, *,
                 check_ip_checksum: bool = True) -> None:
        self.check_ip_checksum = check_ip_checksum
        self.dst_ip = None if dst_ip is None else int(ipaddress.IPv4Address(dst_ip))
        if dst_port is not None and not 0 <= dst_port <= 0xFFFF:
            raise ValueError(f"dst_port must be 0..65535, not {dst_port}")
        self.dst_port = dst_port
        self.counters: dict[str, int] = dict.fromkeys(ETH_COUNTERS, 0)

    def frame(self, frame: bytes) -> bytes | None:
        """The payload passed on for one frame (short if the frame is truncated), or None."""
        self.counters["eth_frames"] += 1
        reason, start, length = self.classify(frame)
        if reason is not None:
            self.counters[reason] += 1
            return None
        payload = frame[start : start + length]
        if len(payload) < length:
            self.counters["eth_truncated"] += 1
            return payload or None
        self.counters["eth_passed"] += 1
        return payload

    def classify(self, frame: bytes) -> tuple[str | None, int, int]:
        """(drop reason or None, payload offset, payload length) from the headers of one frame."""
        b = _Bytes(frame)
        try:
            type_at = ETH_TYPE_AT
            for _ in range(MAX_VLAN_TAGS):
                if b.get(type_at, 2) not in VLAN_TPIDS:
                    break
                type_at += VLAN_TAG_LEN
            if b.get(type_at, 2) != ETHERTYPE_IPV4:
                return "eth_not_ipv4", 0, 0
            ip = type_at + 2
            version_ihl, total = b.field(IPV4["version_ihl"], ip), b.field(IPV4["total_length"], ip)
            version, ihl = version_ihl >> 4, version_ihl & 0x0F
            if version != 4 or ihl < IPV4_MIN_IHL or total < 4 * ihl + UDP_HEADER_LEN:
                return "eth_bad_ip_header", 0, 0
            udp = ip + 4 * ihl
            if self.check_ip_checksum and ones_complement_sum(b.span(ip, udp)) != 0xFFFF:
                return "eth_bad_ip_checksum", 0, 0
            if b.field(IPV4["flags_fragment"], ip) & IPV4_FRAGMENT_MASK:
                return "eth_ip_fragment", 0, 0
            if b.field(IPV4["protocol"], ip) != IP_PROTO_UDP:
                return "eth_not_udp", 0, 0
            if self.dst_ip is not None and b.field(IPV4["dst"], ip) != self.dst_ip:
                return "eth_wrong_address", 0, 0
            if self.dst_port is not None and b.field(UDP["dst_port"], udp) != self.dst_port:
                return "eth_wrong_port", 0, 0
            udp_length = b.field(UDP["length"], udp)
            if udp_length != total - 4 * ihl or udp_length == UDP_HEADER_LEN:
                return "eth_bad_udp_length", 0, 0
            return None, udp + UDP_HEADER_LEN, udp_length - UDP_HEADER_LEN
        except _Short:
            return "eth_truncated", 0, 0
