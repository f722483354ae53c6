"""Packet captures: read classic pcap and pcapng (Ethernet, 802.1Q/QinQ, IPv4, UDP, TCP); write classic pcap.

dpkt provides the pcap constants, pcapng interface-block parsing and the classic-pcap writer. Records and
frames are unpacked here because dpkt's readers return float seconds (pcapng and microsecond pcap lose
nanoseconds; nanosecond pcap comes back as a slow Decimal), read only the first pcapng interface, and
build one object per protocol layer per frame; the walk below keeps integer nanoseconds and is faster.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, BinaryIO, NamedTuple

from dpkt import pcap as dpcap
from dpkt import pcapng as dpcapng

from .binaryfile import open_maybe_gzip
from .moldudp64 import END_OF_SESSION, HEADER_LEN
from .net_headers import (
    CAPTURE_VLAN_TPIDS,
    ETH_HEADER_LEN,
    ETH_TYPE_AT,
    ETHERTYPE_IPV4,
    IP_PROTO_TCP,
    IP_PROTO_UDP,
    IPV4,
    IPV4_FRAGMENT_MASK,
    UDP,
    UDP_HEADER_LEN,
    VLAN_TAG_LEN,
    ipv4_checksum,
)

__all__ = [
    "PCAPNG_MAGIC", "PCAP_MAGICS", "Frame", "PcapReader", "classify", "ipv4_checksum", "is_capture",
    "read_pcap", "udp_frame", "write_pcap",
]

# classic pcap magic (as the first 4 bytes read big-endian) -> (byte order, ticks per second)
PCAP_MAGICS: dict[int, tuple[str, int]] = {
    dpcap.TCPDUMP_MAGIC: (">", 1_000_000),
    dpcap.TCPDUMP_MAGIC_NANO: (">", 1_000_000_000),
    dpcap.PMUDPCT_MAGIC: ("<", 1_000_000),
    dpcap.PMUDPCT_MAGIC_NANO: ("<", 1_000_000_000),
}
PCAPNG_MAGIC = dpcapng.PCAPNG_BT_SHB
_ETH_VLAN = frozenset(CAPTURE_VLAN_TPIDS)  # any number of tags (protocol.net_headers: not the card's rule)
_ETH_IP = ETHERTYPE_IPV4
# Field offsets of protocol.net_headers, bound once: the walk below reads bytes inline, for speed.
_IP_TOTAL, _IP_FRAG, _IP_PROTO = IPV4["total_length"].offset, IPV4["flags_fragment"].offset, IPV4["protocol"].offset
_IP_SRC, _IP_DST = IPV4["src"].offset, IPV4["dst"].offset
_UDP_SPORT, _UDP_DPORT, _UDP_LEN = UDP["src_port"].offset, UDP["dst_port"].offset, UDP["length"].offset
_DLT_ETHERNET = dpcap.DLT_EN10MB
_DLT_RAW = (dpcap.DLT_RAW, 12, 14, 101)  # raw IP: the value differs between platforms
_DLT_LINUX_SLL = 113
_DLT_NULL = (dpcap.DLT_NULL, dpcap.DLT_LOOP)
_SOUP_FIXED = {ord("H"): 1, ord("R"): 1, ord("Z"): 1, ord("O"): 1, ord("J"): 2, ord("A"): 31}
_SOUP_VARIABLE = {ord(c) for c in "+SUL"}


class Frame(NamedTuple):
    """One IPv4 UDP or TCP frame of a capture: capture time, addresses, ports and transport payload."""

    ts_ns: int
    src: str
    dst: str
    sport: int
    dport: int
    proto: str  # 'udp' or 'tcp'
    payload: bytes


def is_capture(head: bytes) -> bool:
    """Whether the first 4 bytes of a file are a classic pcap or pcapng magic number."""
    return len(head) >= 4 and (int.from_bytes(head[:4], "big") in PCAP_MAGICS or head[:4] == b"\n\r\r\n")


class UnsupportedLinkType(ValueError):
    """A capture record of a link type the reader does not decode."""


_DECODED = "Ethernet (1), raw IPv4 (101, 12, 14), Linux cooked (113), BSD loopback (0, 108)"


def _unsupported(linktype: int, what: str = _DECODED) -> UnsupportedLinkType:
    names = {v: k[4:] for k, v in vars(dpcap).items() if k.startswith("DLT_") and isinstance(v, int)}
    name = f" ({names[linktype]})" if linktype in names else ""
    return UnsupportedLinkType(f"capture link type {linktype}{name} is not read; this reader decodes {what}")


class PcapReader:
    """Iterates the IPv4 UDP/TCP `Frame`s of a classic pcap or pcapng file (gzip allowed).

    Counters: `frames` (records read), `ipv4`, `udp`, `tcp`, `non_ipv4`, `other_proto` (IPv4 neither UDP
    nor TCP), `fragments` (IP fragments, skipped), `truncated` (records cut short by the snap length or
    the end of the file). A record of a link type it does not decode raises `UnsupportedLinkType`, naming
    it (`unsupported_link` stays 0; it is kept for the feed's statistics).
    """

    def __init__(self, path_or_fileobj: str | os.PathLike[str] | BinaryIO) -> None:
        self.source = path_or_fileobj
        self.frames = self.ipv4 = self.udp = self.tcp = 0
        self.non_ipv4 = self.other_proto = self.fragments = self.truncated = self.unsupported_link = 0

    def counters(self) -> dict[str, int]:
        names = ("frames", "ipv4", "udp", "tcp", "non_ipv4", "other_proto", "fragments", "truncated",
                 "unsupported_link")
        return {k: getattr(self, k) for k in names}

    def __iter__(self) -> Iterator[Frame]:
        owned = isinstance(self.source, (str, bytes, os.PathLike))
        stream, raw, _gz = open_maybe_gzip(self.source)
        try:
            for ts_ns, linktype, data in self._records(stream):
                self.frames += 1
                frame = self._decode(ts_ns, linktype, data)
                if frame is not None:
                    yield frame
        finally:
            if owned:
                stream.close()
                raw.close()

    def ethernet_frames(self) -> Iterator[tuple[int, bytes]]:
        """(capture time in ns, raw frame) of every Ethernet record, undecoded: what a NIC-side card sees."""
        owned = isinstance(self.source, (str, bytes, os.PathLike))
        stream, raw, _gz = open_maybe_gzip(self.source)
        try:
            for ts_ns, linktype, data in self._records(stream):
                self.frames += 1
                if linktype != _DLT_ETHERNET:
                    raise _unsupported(linktype, "Ethernet frames only (what a network-attached card sees)")
                yield ts_ns, data
        finally:
            if owned:
                stream.close()
                raw.close()

    def _records(self, f: IO[bytes]) -> Iterator[tuple[int, int, bytes]]:
        head = f.read(4)
        magic = int.from_bytes(head, "big") if len(head) == 4 else -1
        if magic in PCAP_MAGICS:
            yield from self._classic(f, *PCAP_MAGICS[magic])
        elif magic == PCAPNG_MAGIC:
            yield from self._pcapng(f, head)
        else:
            raise ValueError(f"not a pcap or pcapng file (magic {head.hex()})")

    def _classic(self, f: IO[bytes], order: str, ticks: int) -> Iterator[tuple[int, int, bytes]]:
        rest = f.read(20)
        if len(rest) < 20:
            raise ValueError("pcap file header is cut short")
        linktype = struct.unpack(order + "I", rest[16:20])[0] & 0x0FFFFFFF
        rec = struct.Struct(order + "IIII").unpack
        scale = 1_000_000_000 // ticks
        read = f.read
        while True:
            hdr = read(16)
            if len(hdr) < 16:
                if hdr:
                    self.truncated += 1
                return
            sec, frac, caplen, _wirelen = rec(hdr)
            data = read(caplen)
            if len(data) < caplen:
                self.truncated += 1
                return
            yield sec * 1_000_000_000 + frac * scale, linktype, data

    def _pcapng(self, f: IO[bytes], head: bytes) -> Iterator[tuple[int, int, bytes]]:
        order = "<"
        ifaces: list[tuple[int, int, int, int]] = []  # (linktype, multiplier, divisor, offset ns)
        while True:
            hdr, head = head + f.read(8 - len(head)), b""
            if len(hdr) < 8:
                if hdr:
                    self.truncated += 1
                return
            if hdr[:4] == b"\n\r\r\n":  # a new section: its byte-order magic sets the byte order
                bom = f.read(4)
                order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                hdr = hdr[:8] + bom  # the rest of the section header is skipped below
                ifaces = []
            btype, blen = struct.unpack(order + "II", hdr[:8])
            body = f.read(blen - len(hdr)) if blen >= 12 else b""
            if blen < 12 or len(body) < blen - len(hdr):
                self.truncated += 1
                return
            if btype == dpcapng.PCAPNG_BT_IDB:
                ifaces.append(self._iface(hdr + body, order))
            elif btype in (dpcapng.PCAPNG_BT_EPB, dpcapng.PCAPNG_BT_PB):
                iface, ts_hi, ts_lo, caplen = struct.unpack(order + "IIII", body[:16])
                if btype == dpcapng.PCAPNG_BT_PB:  # 2-byte interface id, then a drop count
                    iface = struct.unpack(order + "H", body[:2])[0]
                linktype, mul, div, off = ifaces[iface] if iface < len(ifaces) else (-1, 1, 1, 0)
                yield off + ((ts_hi << 32 | ts_lo) * mul) // div, linktype, body[20 : 20 + caplen]
            elif btype == dpcapng.PCAPNG_BT_SPB:
                wirelen = struct.unpack(order + "I", body[:4])[0]
                linktype = ifaces[0][0] if ifaces else -1
                yield 0, linktype, body[4 : 4 + min(wirelen, len(body) - 8)]

    @staticmethod
    def _iface(block: bytes, order: str) -> tuple[int, int, int, int]:
        cls = dpcapng.InterfaceDescriptionBlockLE if order == "<" else dpcapng.InterfaceDescriptionBlock
        idb = cls(block)
        mul, div, off = 1_000, 1, 0  # default resolution: microseconds
        for opt in idb.opts:
            if opt.code == dpcapng.PCAPNG_OPT_IF_TSRESOL:
                r = opt.data[0]
                base = 2 if r & 0x80 else 10
                mul, div = 1_000_000_000, base ** (r & 0x7F)
            elif opt.code == dpcapng.PCAPNG_OPT_IF_TSOFFSET:
                off = struct.unpack(order + "q", opt.data[:8])[0] * 1_000_000_000
        return idb.linktype, mul, div, off

    def _decode(self, ts_ns: int, linktype: int, d: bytes) -> Frame | None:
        try:
            if linktype == _DLT_ETHERNET:
                etype = d[ETH_TYPE_AT] << 8 | d[ETH_TYPE_AT + 1]
                off = ETH_HEADER_LEN
                while etype in _ETH_VLAN:
                    etype = d[off + 2] << 8 | d[off + 3]
                    off += VLAN_TAG_LEN
            elif linktype in _DLT_RAW:
                etype, off = (_ETH_IP if d[0] >> 4 == 4 else 0), 0
            elif linktype == _DLT_LINUX_SLL:
                etype, off = d[14] << 8 | d[15], 16
            elif linktype in _DLT_NULL:
                etype, off = (_ETH_IP if d[0] == 2 or d[3] == 2 else 0), 4
            else:
                raise _unsupported(linktype)
            if etype != _ETH_IP or d[off] >> 4 != 4:
                self.non_ipv4 += 1
                return None
            self.ipv4 += 1
            ihl = (d[off] & 0x0F) * 4
            total = d[off + _IP_TOTAL] << 8 | d[off + _IP_TOTAL + 1]
            end = off + total if total else len(d)  # 0: a segmentation-offloaded capture
            if end > len(d):
                self.truncated += 1
                return None
            if (d[off + _IP_FRAG] << 8 | d[off + _IP_FRAG + 1]) & IPV4_FRAGMENT_MASK:
                self.fragments += 1
                return None
            proto = d[off + _IP_PROTO]
            src = socket.inet_ntoa(d[off + _IP_SRC : off + _IP_SRC + 4])
            dst = socket.inet_ntoa(d[off + _IP_DST : off + _IP_DST + 4])
            l4 = off + ihl
            sport = d[l4 + _UDP_SPORT] << 8 | d[l4 + _UDP_SPORT + 1]  # TCP's ports sit where UDP's do
            dport = d[l4 + _UDP_DPORT] << 8 | d[l4 + _UDP_DPORT + 1]
            if proto == IP_PROTO_UDP:
                ulen = d[l4 + _UDP_LEN] << 8 | d[l4 + _UDP_LEN + 1]
                stop = l4 + ulen if ulen >= UDP_HEADER_LEN else end
                if stop > end:
                    self.truncated += 1
                    return None
                self.udp += 1
                return Frame(ts_ns, src, dst, sport, dport, "udp", d[l4 + UDP_HEADER_LEN : stop])
            if proto == IP_PROTO_TCP:
                self.tcp += 1
                return Frame(ts_ns, src, dst, sport, dport, "tcp", d[l4 + (d[l4 + 12] >> 4) * 4 : end])
            self.other_proto += 1
            return None
        except IndexError:
            self.truncated += 1
            return None


def read_pcap(path: str | os.PathLike[str] | BinaryIO) -> Iterator[Frame]:
    """The IPv4 UDP and TCP frames of a capture, in file order (see `PcapReader` for the counters)."""
    return iter(PcapReader(path))


def classify(payload: bytes, proto: str) -> str:
    """'moldudp64' for a UDP payload whose blocks exactly fill it, 'soupbintcp' for a TCP payload tiled by
    SoupBinTCP packets of known types, else 'unknown'."""
    n = len(payload)
    if proto == "udp":
        if n < HEADER_LEN:
            return "unknown"
        count = payload[18] << 8 | payload[19]
        if count in (0, END_OF_SESSION):
            return "moldudp64" if n == HEADER_LEN else "unknown"
        pos = HEADER_LEN
        try:  # indexing past the end (IndexError) means the blocks overrun the payload
            for _ in range(count):
                pos += 2 + (payload[pos] << 8 | payload[pos + 1])
        except IndexError:
            return "unknown"
        return "moldudp64" if pos == n else "unknown"
    if proto == "tcp":
        pos = 0
        while pos < n:
            if pos + 3 > n:
                return "unknown"
            size, kind = payload[pos] << 8 | payload[pos + 1], payload[pos + 2]
            fixed = _SOUP_FIXED.get(kind)
            if (size != fixed) if fixed is not None else (kind not in _SOUP_VARIABLE or size < 1):
                return "unknown"
            pos += 2 + size
        return "soupbintcp" if pos == n and n else "unknown"
    return "unknown"


_MAC_SRC = bytes.fromhex("020000000001")


def udp_frame(payload: bytes, src: tuple[str, int], dst: tuple[str, int], ident: int = 0) -> bytes:
    """An Ethernet/IPv4/UDP frame carrying `payload` (multicast MAC for a multicast destination)."""
    sip, dip = socket.inet_aton(src[0]), socket.inet_aton(dst[0])
    mac_dst = bytes((1, 0, 94, dip[1] & 127, dip[2], dip[3])) if 224 <= dip[0] <= 239 else bytes.fromhex("020000000002")
    ulen = UDP_HEADER_LEN + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ident & 0xFFFF, 0x4000, 64, IP_PROTO_UDP, 0, sip, dip)
    at = IPV4["checksum"].offset
    ip = ip[:at] + ipv4_checksum(ip).to_bytes(2, "big") + ip[at + 2 :]
    udp = struct.pack("!HHHH", src[1], dst[1], ulen, 0)  # checksum 0: none, as IPv4 allows
    return mac_dst + _MAC_SRC + ETHERTYPE_IPV4.to_bytes(2, "big") + ip + udp + payload


def write_pcap(
    path: str | os.PathLike[str],
    packets: Iterable[object],
    *,
    src: tuple[str, int] = ("10.0.0.1", 40000),
    dst: tuple[str, int] = ("233.54.12.111", 26477),
    start_ns: int = 1_700_000_000_000_000_000,
    step_ns: int = 1_000,
) -> int:
    """Write packets (`Packet`s or bytes) as a nanosecond classic pcap of Ethernet/IPv4/UDP frames.

    A packet's `rx_ns` is its timestamp; where it is 0 (or a packet is bare bytes) a synthetic clock
    (`start_ns`, then `step_ns` later than the previous record) stands in. Returns the frame count.
    """
    count = 0
    last = start_ns - step_ns
    with open(path, "wb") as f:
        writer = dpcap.Writer(f, snaplen=65535, linktype=dpcap.DLT_EN10MB, nano=True)
        for p in packets:
            payload, rx_ns = (p, 0) if isinstance(p, (bytes, bytearray, memoryview)) else (p[0], p[1])
            ts = rx_ns if rx_ns else last + step_ns
            last = ts
            frame = udp_frame(bytes(payload), src, dst, count)
            writer.writepkt_time(frame, Decimal(ts) / 1_000_000_000)
            count += 1
    return count
