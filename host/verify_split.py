"""A day's messages split by stock locate into shards, read natively: what each `tickgate verify` task feeds.

Which locate goes to which shard: `balance` counts the messages of each locate (in the first BALANCE_SAMPLE
messages) and deals the locates out busiest first, each to the shard with the fewest messages so far; a locate
not counted goes to shard `locate % N`. Feed-wide messages (locate 0) go to every shard.

`shard_chunks` reads a BinaryFILE (plain or gzip) a few megabytes at a time: the C++ framing
(`tickgate._driver.frame_offsets`) finds where each message starts, and numpy picks the shard's messages and
copies them out with their 2-byte lengths, which are MoldUDP64's block framing too, so `chunk_packets` puts runs of
them behind a header unsplit. No Python runs per message; a task reads the whole file but parses none of it in
Python. A pcap falls back to `shard_messages`, the per-message Python reference the native split is tested against.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tickgate.protocol import itch_spec, moldudp64

__all__ = ["BALANCE_SAMPLE", "ShardChunk", "balance", "chunk_packets", "shard_chunks", "shard_messages"]

BALANCE_SAMPLE = 5_000_000  # messages counted per locate to balance the shards
READ_BYTES = 8 << 20  # decoded bytes of the file framed at once
#: Where every ITCH message holds its stock locate (the common header of the spec table), and its end.
LOCATE_AT = itch_spec.MESSAGES[0].field("stock_locate").offset
LOCATE_END = LOCATE_AT + itch_spec.MESSAGES[0].field("stock_locate").width


def _locate(message: bytes) -> int:
    """The stock locate of one message (0 for one too short to hold it)."""
    return int.from_bytes(message[LOCATE_AT:LOCATE_END], "big") if len(message) >= LOCATE_END else 0
FALLBACK_MESSAGES = 100_000  # messages a chunk of the Python path holds


@dataclass
class ShardChunk:
    """Consecutive messages of one shard: `frames` each message behind its 2-byte big-endian length, back to back;
    `ends[i]` where message i's frame ends in `frames`; `numbers[i]` its 1-based number in the day."""

    frames: bytes
    ends: np.ndarray
    numbers: np.ndarray

    def message(self, i: int) -> bytes:
        """Message i of the chunk, without its length."""
        start = int(self.ends[i - 1]) if i else 0
        return self.frames[start + 2:int(self.ends[i])]


def _is_binaryfile(path: str | Path) -> bool:
    from tickgate.host.feeds.files import _head
    from tickgate.protocol.pcap import is_capture

    return not is_capture(_head(path))


def _framed(path: str | Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(buffer, offsets of the length prefix of each whole message in it) for a BinaryFILE, READ_BYTES at a time;
    up to the end-of-session marker, a message cut short by the file's end left out (as the Python reader does)."""
    from tickgate._driver import frame_offsets
    from tickgate.protocol.binaryfile import open_maybe_gzip

    stream, raw, _ = open_maybe_gzip(path)
    try:
        rest = b""
        while True:
            data = stream.read(READ_BYTES)
            buf = rest + data if rest else data
            if not buf:
                return
            starts, used, ended = frame_offsets(buf)
            if len(starts):
                yield np.frombuffer(buf, dtype=np.uint8), starts
            if ended or not data:
                return
            rest = buf[used:]
    finally:
        stream.close()
        raw.close()


def _locates(buf: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Stock locate of each message (0 for one shorter than 3 bytes)."""
    assert moldudp64.BLOCK_LEN == 2 and LOCATE_END - LOCATE_AT == 2  # the two big-endian bytes read below
    lengths = buf[starts].astype(np.int64) << 8 | buf[starts + 1]
    long = lengths >= LOCATE_END
    at = np.where(long, starts + moldudp64.BLOCK_LEN + LOCATE_AT, 0)
    return np.where(long, buf[at].astype(np.int64) << 8 | buf[np.where(long, at + 1, 0)], 0)


def _messages(path: str | Path) -> Iterator[bytes]:
    from tickgate.host.feeds import open_feed

    for payload, _rx in open_feed(path):
        yield from moldudp64.blocks(payload)


def balance(path: str | Path, shards: int, sample: int = BALANCE_SAMPLE) -> dict[int, int]:
    """Locate -> shard, the busiest locates first, each to the shard with the fewest messages so far (counted
    in the first `sample` messages of the day)."""
    counts = np.zeros(1 << 16, dtype=np.int64)
    if _is_binaryfile(path):
        seen = 0
        for buf, starts in _framed(path):
            loc = _locates(buf, starts[:sample - seen])
            counts += np.bincount(loc, minlength=1 << 16)
            seen += len(loc)
            if seen >= sample:
                break
    else:
        for i, m in enumerate(_messages(path)):
            if i == sample:
                break
            counts[_locate(m)] += 1
    counts[0] = 0
    load = [0] * shards
    out = {}
    busy = np.flatnonzero(counts)
    for locate in busy[np.lexsort((busy, -counts[busy]))]:  # most messages first, then the lower locate
        shard = min(range(shards), key=lambda s: (load[s], s))
        out[int(locate)] = shard
        load[shard] += int(counts[locate])
    return out


def _owner(shard: int, shards: int, assign: dict[int, int] | None) -> np.ndarray:
    """Per locate: whether `shard` takes it (locate 0, feed-wide: every shard)."""
    table = np.arange(1 << 16) % shards
    for locate, s in (assign or {}).items():
        table[locate] = s
    mine = table == shard
    mine[0] = True
    return mine


def shard_messages(path: str | Path, shard: int, shards: int,
                   assign: dict[int, int] | None = None) -> Iterator[tuple[int, bytes]]:
    """(the day's message number, message) of one shard, in order, message by message in Python: the reference
    `shard_chunks` is checked against, and its path for a pcap. `assign`: locate -> shard (`balance`), a locate it
    lacks by `locate % shards`."""
    mine = _owner(shard, shards, assign)
    for n, m in enumerate(_messages(path), 1):
        if mine[_locate(m)]:
            yield n, m


def shard_chunks(path: str | Path, shard: int, shards: int,
                 assign: dict[int, int] | None = None) -> Iterator[ShardChunk]:
    """The messages of one shard (as `shard_messages`) in chunks, read natively from a BinaryFILE."""
    if not _is_binaryfile(path):
        yield from _python_chunks(path, shard, shards, assign)
        return
    mine = _owner(shard, shards, assign)
    day = 0
    for buf, starts in _framed(path):
        taken = mine[_locates(buf, starts)]
        keep = np.flatnonzero(taken)
        if len(keep):
            sizes = (buf[starts].astype(np.int64) << 8 | buf[starts + 1]) + 2
            end = int(starts[-1] + sizes[-1])
            # Every byte of the framed messages, kept or not by its message (the frames are back to back).
            frames = buf[starts[0]:end][np.repeat(taken, sizes)]
            yield ShardChunk(frames.tobytes(), np.cumsum(sizes[keep]), day + keep + 1)
        day += len(starts)


def _python_chunks(path: str | Path, shard: int, shards: int,
                   assign: dict[int, int] | None) -> Iterator[ShardChunk]:
    parts: list[bytes] = []
    numbers: list[int] = []
    sizes: list[int] = []

    def chunk() -> ShardChunk:
        out = ShardChunk(b"".join(parts), np.cumsum(np.array(sizes, dtype=np.int64)), np.array(numbers, np.int64))
        parts.clear(), numbers.clear(), sizes.clear()
        return out

    for n, m in shard_messages(path, shard, shards, assign):
        parts += (len(m).to_bytes(2, "big"), m)
        numbers.append(n)
        sizes.append(len(m) + 2)
        if len(numbers) == FALLBACK_MESSAGES:
            yield chunk()
    if numbers:
        yield chunk()


def chunk_packets(frames: bytes, ends: np.ndarray, session: bytes, sequence: int,
                  max_payload: int = 1400) -> list[bytes]:
    """MoldUDP64 packets of at most `max_payload` bytes holding a chunk's frames in order, numbered from
    `sequence`, each as full as the next message allows (as `host.feeds.pack_messages` packs them)."""
    room = max_payload - moldudp64.HEADER_LEN
    header = moldudp64.HEADER_STRUCT.pack
    out = []
    i, start, n = 0, 0, len(ends)
    while i < n:
        j = int(np.searchsorted(ends, start + room, side="right"))
        if j == i:
            raise ValueError(f"a message of {int(ends[i]) - start - 2} bytes does not fit in a {max_payload}-byte "
                             f"packet")
        end = int(ends[j - 1])
        out.append(header(session, sequence, j - i) + frames[start:end])
        sequence += j - i
        i, start = j, end
    return out
