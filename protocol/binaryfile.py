"""BinaryFILE: a session of messages, each a 2-byte big-endian length then the message.

A zero length marks the end of the session; a file without it is incomplete. Nasdaq's day files
(`MMDDYYYY.NASDAQ_ITCH50.gz`) use this framing, plain or gzip-compressed.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
from collections.abc import Iterable, Iterator
from typing import IO, BinaryIO

__all__ = ["GZIP_MAGIC", "MAX_MESSAGE", "BinaryFileReader", "TruncatedFileError", "open_maybe_gzip", "write_binaryfile"]

GZIP_MAGIC = b"\x1f\x8b"
MAX_MESSAGE = 0xFFFF  # the length prefix is 2 bytes
_PATHLIKE = (str, bytes, os.PathLike)


class _Prepended(io.RawIOBase):
    """A non-seekable stream with some bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def open_maybe_gzip(path_or_fileobj: str | os.PathLike[str] | BinaryIO) -> tuple[IO[bytes], IO[bytes], bool]:
    """(decoded stream, underlying raw stream, is_gzip): gzip is recognised by its magic bytes."""
    if isinstance(path_or_fileobj, _PATHLIKE):
        raw: IO[bytes] = open(path_or_fileobj, "rb", buffering=1 << 16)  # noqa: SIM115
    else:
        raw = path_or_fileobj
    seekable = False
    with contextlib.suppress(AttributeError, ValueError):
        seekable = raw.seekable()
    if seekable:
        start = raw.tell()
        head = raw.read(2)
        raw.seek(start)
    else:
        head = raw.read(2)
        raw = io.BufferedReader(_Prepended(head, raw))  # type: ignore[arg-type]
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw, True
    return raw, raw, False


class TruncatedFileError(ValueError):
    """A gzip BinaryFILE cut short (a partial download): an error unless the reader allows it."""


class BinaryFileReader:
    """Iterates the messages (without length prefixes) of a plain or gzip BinaryFILE, in bounded memory.

    Counters, valid while and after iterating: `messages` (parsed so far; during iteration it may run
    ahead of the consumer by the rest of the current chunk), `bytes_read` (decoded bytes read),
    `end_of_session` (the zero-length marker was seen; reading stops there), `truncated_bytes`
    (bytes of an incomplete last message, 0 if none), `total_bytes` (size on disk, 0 if unknown),
    `gzip_incomplete` (a gzip stream cut before its end). A gzip stream cut before its end raises
    `TruncatedFileError` at the cut, unless `allow_truncated`: then it is read up to the cut and treated as
    the end (`gzip_incomplete`).
    """

    def __init__(
        self, path_or_fileobj: str | os.PathLike[str] | BinaryIO, chunk_bytes: int = 1 << 20, *,
        allow_truncated: bool = False,
    ) -> None:
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be at least 1")
        self.source = path_or_fileobj
        self.chunk_bytes = chunk_bytes
        self.allow_truncated = allow_truncated
        self.messages = 0
        self.bytes_read = 0
        self.end_of_session = False
        self.truncated_bytes = 0
        self.total_bytes = 0
        self.is_gzip = False
        self.gzip_incomplete = False
        self._raw: IO[bytes] | None = None
        if isinstance(path_or_fileobj, _PATHLIKE):
            self.total_bytes = os.path.getsize(path_or_fileobj)
        else:
            try:
                self.total_bytes = os.fstat(path_or_fileobj.fileno()).st_size
            except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
                self.total_bytes = 0

    @property
    def raw_bytes_read(self) -> int:
        """Bytes consumed from the file on disk (compressed bytes for gzip)."""
        raw = self._raw
        if raw is None or raw.closed:
            return self.total_bytes if self.bytes_read else 0
        try:
            return raw.tell()
        except (OSError, ValueError):
            return self.bytes_read

    @property
    def progress(self) -> float:
        """Fraction of the file on disk consumed, 0.0 to 1.0 (0.0 if the size is unknown)."""
        return min(1.0, self.raw_bytes_read / self.total_bytes) if self.total_bytes else 0.0

    def __iter__(self) -> Iterator[bytes]:
        return self._messages()

    def batches(self) -> Iterator[list[bytes]]:
        """The messages, one list per chunk read (fewer Python-level steps than iterating one by one)."""
        self.messages = self.bytes_read = self.truncated_bytes = 0
        self.end_of_session = self.gzip_incomplete = False
        owned = isinstance(self.source, _PATHLIKE)
        stream, self._raw, self.is_gzip = open_maybe_gzip(self.source)
        try:
            yield from self._batches(stream)
        finally:
            if owned:
                stream.close()
                self._raw.close()

    def runs(self, max_bytes: int) -> Iterator[tuple[bytes, int]]:
        """Runs of whole messages with their length prefixes, each at most `max_bytes` long, and their counts.

        BinaryFILE framing is MoldUDP64's message-block framing, so a run is ready to follow a MoldUDP64
        header. Runs are the same whatever `chunk_bytes` is. ValueError if one message alone exceeds it.
        """
        if max_bytes < 3:
            raise ValueError("max_bytes must leave room for at least one message")
        self.messages = self.bytes_read = self.truncated_bytes = 0
        self.end_of_session = self.gzip_incomplete = False
        owned = isinstance(self.source, _PATHLIKE)
        stream, self._raw, self.is_gzip = open_maybe_gzip(self.source)
        try:
            yield from self._runs(stream, max_bytes)
        finally:
            if owned:
                stream.close()
                self._raw.close()

    def _runs(self, stream: IO[bytes], max_bytes: int) -> Iterator[tuple[bytes, int]]:
        chunk_bytes = self.chunk_bytes
        rest = b""
        final = False
        while not final:
            chunk = self._read(stream, chunk_bytes)
            self.bytes_read += len(chunk)
            final = not chunk
            buf = rest + chunk if rest else chunk
            end = len(buf)
            start = pos = count = 0
            limit = min(end, max_bytes)
            try:
                while True:
                    n = buf[pos] << 8 | buf[pos + 1]
                    nxt = pos + 2 + n
                    if nxt > limit:
                        if nxt > end:
                            break  # incomplete: wait for the next chunk
                        if count == 0:
                            raise ValueError(f"a BinaryFILE message of {n} bytes exceeds {max_bytes - 2}")
                        self.messages += count
                        yield buf[start:pos], count
                        start, count = pos, 0
                        limit = min(end, pos + max_bytes)
                        continue
                    if n == 0:
                        self.end_of_session = True
                        break
                    count += 1
                    pos = nxt
            except IndexError:
                pass
            if self.end_of_session or final:
                if count:
                    self.messages += count
                    yield buf[start:pos], count
                if not self.end_of_session:
                    self.truncated_bytes = end - pos
                return
            rest = buf[start:]  # the open run is walked again with the next chunk

    def _read(self, stream: IO[bytes], n: int) -> bytes:
        """Up to `n` bytes; a gzip stream cut short (a partial download) ends where it was cut."""
        if not self.is_gzip:
            return stream.read(n)
        parts: list[bytes] = []
        got = 0
        try:  # read1: the bytes decompressed before an EOFError are kept, unlike with read()
            while got < n:
                data = stream.read1(n - got)  # type: ignore[attr-defined]
                if not data:
                    break
                parts.append(data)
                got += len(data)
        except EOFError:
            self.gzip_incomplete = True
            if not self.allow_truncated:
                name = os.fspath(self.source) if isinstance(self.source, _PATHLIKE) else "the file"
                raise TruncatedFileError(
                    f"{name}: the gzip stream is cut short after {self.bytes_read + got:,} decoded bytes (a partial "
                    f"download?); allow_truncated (--allow-truncated) reads it up to the cut") from None
        return b"".join(parts)

    def _messages(self) -> Iterator[bytes]:
        for batch in self.batches():
            yield from batch

    def _batches(self, stream: IO[bytes]) -> Iterator[list[bytes]]:
        chunk_bytes = self.chunk_bytes
        rest = b""
        while True:
            chunk = self._read(stream, chunk_bytes)
            if not chunk:
                break
            self.bytes_read += len(chunk)
            buf = rest + chunk if rest else chunk
            end = len(buf)
            pos = 2  # start of the current message's body; its length is at pos-2, pos-1
            out: list[bytes] = []
            append = out.append
            try:  # indexing past the end raises IndexError: cheaper than a bounds test per message
                while True:
                    nxt = pos + (buf[pos - 2] << 8 | buf[pos - 1])
                    if nxt > end:
                        break
                    append(buf[pos:nxt])
                    pos = nxt + 2
            except IndexError:
                pass
            rest = buf[pos - 2 :]
            if b"" in out:  # the zero-length end-of-session marker
                del out[out.index(b"") :]
                self.end_of_session = True
            if out:
                self.messages += len(out)
                yield out
            if self.end_of_session:
                return
        self.truncated_bytes = len(rest)


def write_binaryfile(
    path: str | os.PathLike[str], messages: Iterable[bytes], *, end_of_session: bool = True
) -> int:
    """Write `messages` as a BinaryFILE (gzip if `path` ends with .gz); return how many were written."""
    gz = os.fspath(path).endswith(".gz")
    f: IO[bytes] = gzip.open(path, "wb", compresslevel=6) if gz else open(path, "wb")  # noqa: SIM115
    count = 0
    parts: list[bytes] = []
    size = 0
    try:
        for m in messages:
            n = len(m)
            if not 0 < n <= MAX_MESSAGE:
                raise ValueError(f"BinaryFILE message {count + 1} is {n} bytes; it must be 1..{MAX_MESSAGE}")
            parts.append(n.to_bytes(2, "big"))
            parts.append(m)
            size += n + 2
            count += 1
            if size >= 1 << 20:
                f.write(b"".join(parts))
                parts.clear()
                size = 0
        if end_of_session:
            parts.append(b"\x00\x00")
        f.write(b"".join(parts))
    finally:
        f.close()
    return count
