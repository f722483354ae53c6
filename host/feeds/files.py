"""File feeds: MoldUDP64 packets from a BinaryFILE (plain or gzip) or from a packet capture."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from tickgate.protocol import moldudp64
from tickgate.protocol.binaryfile import BinaryFileReader, open_maybe_gzip
from tickgate.protocol.packet import Packet
from tickgate.protocol.pcap import PcapReader, classify, is_capture

from .packing import DEFAULT_MAX_PAYLOAD, DEFAULT_SESSION, check_max_payload, session_bytes

__all__ = ["DEFAULT_SESSION", "BinaryFileFeed", "PcapFeed", "open_feed", "pack_messages"]

_header = moldudp64.HEADER_STRUCT.pack  # (session, sequence number, message count)
_PREFIX = [n.to_bytes(2, "big") for n in range(256)]
_session_bytes = session_bytes
_check_max_payload = check_max_payload


def pack_messages(
    messages: Iterable[bytes],
    *,
    session: bytes | str = DEFAULT_SESSION,
    first_sequence: int = 1,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
    end_of_session: bool = False,
) -> Iterator[bytes]:
    """MoldUDP64 downstream packets of at most `max_payload` bytes holding `messages` in order.

    Sequence numbers run on from `first_sequence`; with `end_of_session` an end-of-session packet
    (count 0xFFFF, the next sequence number) follows. ValueError for a message that cannot fit alone.
    """
    _check_max_payload(max_payload)
    sess = _session_bytes(session)
    seq = first_sequence
    room = max_payload - moldudp64.HEADER_LEN
    parts: list[bytes] = []
    append = parts.append
    size = 0
    prefix = _PREFIX
    for m in messages:
        n = len(m)
        size += n + 2
        if size > room:
            if not parts or n + 2 > room:
                raise ValueError(f"a message of {n} bytes does not fit in a {max_payload}-byte packet")
            count = len(parts) >> 1
            yield b"".join((_header(sess, seq, count), *parts))
            seq += count
            parts.clear()
            size = n + 2
        try:
            append(prefix[n])
        except IndexError:
            append(n.to_bytes(2, "big"))
        append(m)
    if parts:
        count = len(parts) >> 1
        yield b"".join((_header(sess, seq, count), *parts))
        seq += count
    if end_of_session:
        yield moldudp64.end_of_session(sess, seq)


class BinaryFileFeed:
    """Packets (rx_ns 0) of a BinaryFILE's messages, numbered so a message's sequence is its 1-based index.

    A file that ends with the zero-length marker ends with an end-of-session packet. `reader` holds the
    file counters (messages, truncated_bytes, end_of_session, progress).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | BinaryIO,
        *,
        session: bytes | str = DEFAULT_SESSION,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        chunk_bytes: int = 1 << 20,
        allow_truncated: bool = False,
    ) -> None:
        _check_max_payload(max_payload)
        self.path = path
        self.session = _session_bytes(session)
        self.max_payload = max_payload
        self.reader = BinaryFileReader(path, chunk_bytes=chunk_bytes, allow_truncated=allow_truncated)
        self.packets = 0

    def __iter__(self) -> Iterator[Packet]:
        sess = self.session
        seq = 1
        self.packets = 0
        # BinaryFILE framing equals MoldUDP64 block framing: whole runs go behind a header unsplit.
        for framed, count in self.reader.runs(self.max_payload - moldudp64.HEADER_LEN):
            self.packets += 1
            yield Packet(_header(sess, seq, count) + framed, 0)
            seq += count
        if self.reader.end_of_session:
            self.packets += 1
            yield Packet(moldudp64.end_of_session(sess, seq), 0)

    def stats(self) -> dict[str, int]:
        """Feed counters; `file_progress_permille` is the share of the file on disk read so far."""
        r = self.reader
        return {
            "file_messages": r.messages,
            "file_truncated_bytes": r.truncated_bytes,
            "file_end_of_session": int(r.end_of_session),
            "file_bytes_read": r.raw_bytes_read,
            "file_total_bytes": r.total_bytes,
            "file_progress_permille": int(r.progress * 1000),
            "feed_packets": self.packets,
            "file_gzip_incomplete": int(r.gzip_incomplete),
        }


class PcapFeed:
    """Packets (rx_ns = capture time) of a capture's MoldUDP64 UDP frames, optionally to one port only."""

    def __init__(self, path: str | os.PathLike[str] | BinaryIO, *, port: int | None = None) -> None:
        self.path = path
        self.port = port
        self.reader = PcapReader(path)
        self.moldudp64 = self.soupbintcp = self.other_port = self.unknown = 0

    def __iter__(self) -> Iterator[Packet]:
        self.moldudp64 = self.soupbintcp = self.other_port = self.unknown = 0
        port = self.port
        for fr in self.reader:
            kind = classify(fr.payload, fr.proto)
            if kind == "moldudp64":
                if port is not None and fr.dport != port:
                    self.other_port += 1
                    continue
                self.moldudp64 += 1
                yield Packet(fr.payload, fr.ts_ns)
            elif kind == "soupbintcp":
                self.soupbintcp += 1
            else:
                self.unknown += 1

    def stats(self) -> dict[str, int]:
        """Capture counters: frames by kind, MoldUDP64 packets yielded, what was skipped and why."""
        c = self.reader.counters()
        skipped = c["non_ipv4"] + c["other_proto"] + c["fragments"] + c["truncated"] + c["unsupported_link"]
        return {
            "pcap_frames": c["frames"],
            "pcap_udp": c["udp"],
            "pcap_tcp": c["tcp"],
            "pcap_moldudp64": self.moldudp64,
            "pcap_soupbintcp": self.soupbintcp,
            "pcap_other_port": self.other_port,
            "pcap_unknown_payload": self.unknown,
            "pcap_fragments": c["fragments"],
            "pcap_truncated": c["truncated"],
            "pcap_skipped": skipped,
        }


def _head(path: str | os.PathLike[str]) -> bytes:
    """The first 4 decoded bytes of a file (gunzipped if it is gzip)."""
    stream, raw, _ = open_maybe_gzip(path)
    try:
        return stream.read(4)
    finally:
        stream.close()
        raw.close()


def open_feed(path: str | os.PathLike[str], *, allow_truncated: bool = False,
              **kw: object) -> BinaryFileFeed | PcapFeed:
    """A `PcapFeed` for a pcap or pcapng file (gzip allowed), else a `BinaryFileFeed`; `kw` go to it, and
    `allow_truncated` to a BinaryFileFeed (a gzip cut short is read up to the cut, not an error)."""
    if is_capture(_head(path)):
        return PcapFeed(path, **kw)  # type: ignore[arg-type]
    return BinaryFileFeed(path, allow_truncated=allow_truncated, **kw)  # type: ignore[arg-type]
