"""MoldUDP64 downstream and re-request packets, and the per-packet header of the DMA path.

Downstream packet: session (10, alphanumeric), sequence number of the first message (8), message count
(2), then message blocks: 2-byte big-endian length (excluding itself) + message. Count 0 is a heartbeat
(its sequence is the next expected), count 0xFFFF is end of session. All integers big-endian.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from enum import IntFlag
from typing import NamedTuple

from .itch_spec import Field

__all__ = [
    "DMA_HEADER",
    "END_OF_SESSION",
    "HEADER",
    "HEADER_LEN",
    "HEADER_STRUCT",
    "LINE_BUFFER_BYTES",
    "MAX_PACKET",
    "MAX_PAYLOAD",
    "DmaFlag",
    "DmaHeader",
    "Header",
    "RequestPacket",
    "blocks",
    "build",
    "end_of_session",
    "heartbeat",
    "held_bytes",
    "pack_dma",
    "parse_header",
]

HEADER: tuple[Field, ...] = (
    Field("session", 0, 10, "alpha"),
    Field("sequence_number", 10, 8, "uint"),
    Field("message_count", 18, 2, "uint"),
)
HEADER_LEN = 20
END_OF_SESSION = 0xFFFF
MAX_PAYLOAD = 1472  # bytes of UDP payload in one 1500-byte Ethernet frame with IPv4/UDP headers
BLOCK_LEN = 2  # the big-endian length prefix of each message block



def _struct(fields: tuple[Field, ...], order: str) -> struct.Struct:
    """A struct for fields laid end to end: alpha as bytes, unsigned integers by width."""
    codes = {1: "B", 2: "H", 4: "I", 8: "Q"}
    pos, fmt = 0, order
    for f in fields:
        if f.offset != pos:
            raise AssertionError(f"MoldUDP64 field {f.name} is not contiguous")
        fmt += f"{f.width}s" if f.kind == "alpha" else codes[f.width]
        pos += f.width
    return struct.Struct(fmt)


HEADER_STRUCT = _struct(HEADER, ">")  # session, sequence_number, message_count
_HEADER = HEADER_STRUCT
_REQUEST = HEADER_STRUCT  # a re-request has the header's layout: session, sequence, requested count
_BLOCK = struct.Struct(">H")
if _HEADER.size != HEADER_LEN:
    raise AssertionError("MoldUDP64 header layout disagrees with its table")


class Header(NamedTuple):
    """A MoldUDP64 downstream header."""

    session: bytes
    sequence_number: int
    message_count: int

    @property
    def is_heartbeat(self) -> bool:
        return self.message_count == 0

    @property
    def is_end_of_session(self) -> bool:
        return self.message_count == END_OF_SESSION


def parse_header(packet: bytes | memoryview) -> Header:
    """The header of a downstream packet; ValueError if the packet is shorter than 20 bytes."""
    if len(packet) < HEADER_LEN:
        raise ValueError(f"MoldUDP64 packet of {len(packet)} bytes is shorter than its 20-byte header")
    return Header(*_HEADER.unpack_from(packet))


def _session(session: bytes | str) -> bytes:
    s = session.encode("ascii") if isinstance(session, str) else bytes(session)
    if len(s) > 10:
        raise ValueError(f"MoldUDP64 session {s!r} is longer than 10 bytes")
    return s.ljust(10, b" ")


def build(session: bytes | str, sequence_number: int, messages: Iterable[bytes]) -> bytes:
    """A downstream packet holding `messages` (ITCH messages without prefixes), first one at `sequence_number`."""
    msgs = list(messages)
    if len(msgs) >= END_OF_SESSION:
        raise ValueError(f"{len(msgs)} messages do not fit in one MoldUDP64 packet")
    body = b"".join(_BLOCK.pack(len(m)) + m for m in msgs)
    return _HEADER.pack(_session(session), sequence_number, len(msgs)) + body


def heartbeat(session: bytes | str, next_sequence_number: int) -> bytes:
    """A heartbeat: no messages, the sequence number of the next message."""
    return _HEADER.pack(_session(session), next_sequence_number, 0)


def end_of_session(session: bytes | str, next_sequence_number: int) -> bytes:
    """An end-of-session packet (count 0xFFFF)."""
    return _HEADER.pack(_session(session), next_sequence_number, END_OF_SESSION)


def blocks(packet: bytes | memoryview) -> Iterator[bytes]:
    """The message blocks of a well-formed packet, in order; ValueError on a malformed one."""
    hdr = parse_header(packet)
    if hdr.is_heartbeat or hdr.is_end_of_session:
        return
    mv = memoryview(packet)
    pos = HEADER_LEN
    for i in range(hdr.message_count):
        if pos + BLOCK_LEN > len(mv):
            raise ValueError(f"MoldUDP64 packet ends before message {i + 1} of {hdr.message_count}")
        (n,) = _BLOCK.unpack_from(mv, pos)
        pos += BLOCK_LEN
        if pos + n > len(mv):
            raise ValueError(f"MoldUDP64 message {i + 1} of {n} bytes runs past the end of the packet")
        yield bytes(mv[pos:pos + n])
        pos += n
    if pos != len(mv):
        raise ValueError(f"MoldUDP64 packet has {len(mv) - pos} bytes after its {hdr.message_count} messages")


class RequestPacket(NamedTuple):
    """A re-request (client to re-request server): session, first sequence number, message count."""

    session: bytes
    sequence_number: int
    requested_count: int

    def encode(self) -> bytes:
        return _REQUEST.pack(_session(self.session), self.sequence_number, self.requested_count)

    @classmethod
    def decode(cls, buf: bytes) -> RequestPacket:
        if len(buf) != _REQUEST.size:
            raise ValueError(f"MoldUDP64 re-request is {_REQUEST.size} bytes, got {len(buf)}")
        return cls(*_REQUEST.unpack(buf))


# The DMA path: each packet travels to the card behind a 16-byte little-endian header.
DMA_HEADER: tuple[Field, ...] = (
    Field("length", 0, 2, "uint"),  # bytes of MoldUDP64 packet that follow
    Field("flags", 2, 2, "uint"),  # DmaFlag bits; the others reserved, zero
    Field("reserved", 4, 4, "uint"),
    Field("rx_time_ns", 8, 8, "uint"),  # host receive time
)
_DMA = _struct(DMA_HEADER, "<")
DMA_HEADER_LEN = _DMA.size
#: The longest MoldUDP64 packet a card takes: what the DMA header's length field can say (and more than a UDP
#: datagram holds). Every implementation counts a longer one `packets_oversize` and drops it whole (the host
#: refuses it before the DMA path, which cannot frame it); its messages then show as a gap.
MAX_PACKET = (1 << 8 * next(f.width for f in DMA_HEADER if f.name == "length")) - 1
DMA_ALIGN = 8  # each header + packet is padded to a multiple of 8 bytes (one 64-bit beat)


class DmaFlag(IntFlag):
    """Bits of the DMA header's `flags` (A/B lines, `model.lines`); the other bits are reserved, zero."""

    LINE_B = 1 << 0  # the packet came on line B (clear: line A, or the one line of a single-line feed)
    END_OF_INPUT = 1 << 1  # no packet (length 0): the input has ended, release what the arbiter holds


#: A/B lines (`model.lines`): the bytes of packets one line's arbiter holds at most, each packet counted in whole
#: DMA_ALIGN-byte beats (an empty one as one beat). A line holding more releases its first packet, as a line
#: running more than the window ahead does: the gateware's buffer is this size (`hdl.lines`), every
#: implementation follows the same rule.
LINE_BUFFER_BYTES = 16384


def held_bytes(length: int) -> int:
    """The bytes a held packet of `length` bytes counts against LINE_BUFFER_BYTES: whole beats, at least one."""
    return max(1, -(-length // DMA_ALIGN)) * DMA_ALIGN


class DmaHeader(NamedTuple):
    """The per-packet header of the DMA path."""

    length: int
    rx_time_ns: int
    flags: int = 0

    def encode(self) -> bytes:
        return _DMA.pack(self.length, self.flags, 0, self.rx_time_ns)

    @classmethod
    def decode(cls, buf: bytes | memoryview) -> DmaHeader:
        length, flags, _res, rx = _DMA.unpack_from(buf)
        return cls(length, rx, flags)


def pack_dma(packets: Iterable[tuple[bytes, int] | tuple[bytes, int, int]]) -> bytes:
    """(packet, rx_time_ns[, flags]) tuples as one DMA batch: per packet its header, the packet, zeros to
    DMA_ALIGN. ValueError for a packet longer than MAX_PACKET (callers refuse those first, counted)."""
    parts: list[bytes] = []
    for record in packets:
        payload, rx_ns = record[0], record[1]
        n = len(payload)
        if n > MAX_PACKET:
            raise ValueError(f"a packet of {n} bytes is longer than the DMA path takes ({MAX_PACKET})")
        parts.append(_DMA.pack(n, record[2] if len(record) > 2 else 0, 0, rx_ns))
        parts.append(payload)
        pad = -(DMA_HEADER_LEN + n) % DMA_ALIGN
        if pad:
            parts.append(bytes(pad))
    return b"".join(parts)
