"""Writing book events to a `.npy` file of EVENT_DTYPE as they come, in bounded memory."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tickgate.protocol.events import COMMON_FIELDS, EVENT_SIZE, KIND_FIELDS, EventKind

if TYPE_CHECKING:
    import numpy as np

_MAGIC = b"\x93NUMPY\x01\x00"  # .npy format version 1.0 (numpy.lib.format.magic(1, 0))


def event_descr() -> list[tuple[str, str]]:
    """EVENT_DTYPE's .npy description (numpy.lib.format.dtype_to_descr), from the field table without numpy:
    the fields by offset, every byte between them a `reservedN` void, as `protocol.events` lays it out."""
    descr, pos = [], 0
    for f in sorted(COMMON_FIELDS + KIND_FIELDS[EventKind.BBO], key=lambda f: f.offset):
        if f.offset > pos:
            descr.append((f"reserved{pos}", f"|V{f.offset - pos}"))
        descr.append((f.name, f.dtype if f.dtype[0] in "<>|" else f"|{f.dtype}"))
        pos = f.offset + f.width
    if pos < EVENT_SIZE:
        descr.append((f"reserved{pos}", f"|V{EVENT_SIZE - pos}"))
    return descr


def _header_body(count: int) -> bytes:
    d = {"descr": event_descr(), "fortran_order": False, "shape": (count,)}
    return repr(d).encode("latin1")


# Fixed header length (room for any count), so the final shape can be written over the placeholder.
_HEADER_LEN = -(-(len(_MAGIC) + 2 + len(_header_body(10**19)) + 1) // 64) * 64


class EventFileWriter:
    """Appends EVENT_DTYPE arrays to a `.npy` file; the header gets the final count on close."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.count = 0
        self._f = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._f.write(self._header(0))

    @staticmethod
    def _header(count: int) -> bytes:
        body = _header_body(count)
        magic = _MAGIC
        pad = _HEADER_LEN - len(magic) - 2 - len(body) - 1
        if pad < 0:
            raise AssertionError("event dtype description outgrew the fixed .npy header")
        return magic + (len(body) + pad + 1).to_bytes(2, "little") + body + b" " * pad + b"\n"

    def write(self, events: np.ndarray) -> None:
        import numpy as np

        from tickgate.protocol.events import EVENT_DTYPE

        if events.dtype != EVENT_DTYPE:
            raise TypeError(f"expected EVENT_DTYPE records, got {events.dtype}")
        self._f.write(np.ascontiguousarray(events).view(np.uint8).data)  # no copy of a contiguous array
        self.count += len(events)

    def write_native(self, append: Callable[[int], int]) -> int:
        """Let `append(fd)` append raw 64-byte records to the file at its end through the file descriptor
        (`tickgate._driver.FileFeed.run_to_fd`); it returns how many, which are counted. Returns that."""
        self._f.flush()
        n = append(self._f.fileno())
        self._f.seek(0, os.SEEK_END)  # past what was appended under the buffered file
        self.count += n
        return n

    def close(self) -> None:
        if self._f.closed:
            return
        self._f.seek(0)
        self._f.write(self._header(self.count))
        self._f.close()
        expected = _HEADER_LEN + self.count * EVENT_SIZE
        if self.path.stat().st_size != expected:
            raise OSError(f"{self.path}: wrote {self.path.stat().st_size} bytes, expected {expected}")

    def __enter__(self) -> EventFileWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class BackgroundWriter:
    """Writes event batches through `writer` on a thread of its own, so that the caller's next batch is made
    while this one is written (file writes release the GIL). The caller collects into the arrays of
    `buffers()` (`depth` of them, `chunk_events` records each, handed round again once written) and passes
    each batch, a view of the start of one of them, to `write`. An error of the writer is raised by the next
    `write` or by `close`."""

    def __init__(self, writer: EventFileWriter, chunk_events: int, depth: int = 3) -> None:
        self.writer = writer
        import numpy as np

        from tickgate.protocol.events import EVENT_DTYPE

        self._free: queue.Queue[np.ndarray] = queue.Queue()
        for _ in range(depth):
            self._free.put(np.empty(chunk_events, dtype=EVENT_DTYPE))
        self._full: queue.Queue[np.ndarray | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tickgate-event-writer", daemon=True)
        self._thread.start()

    @property
    def count(self) -> int:
        return self.writer.count

    def buffers(self) -> Iterator[np.ndarray]:
        """Arrays to collect into, each as soon as its last batch has been written."""
        while True:
            yield self._free.get()

    def write(self, events: np.ndarray) -> None:
        """Queue a view of the start of one of `buffers()`' arrays; it is not to be touched until handed back."""
        if self._error is not None:
            raise self._error
        self._full.put(events)

    def _run(self) -> None:
        while (events := self._full.get()) is not None:
            try:
                if self._error is None:
                    self.writer.write(events)
            except BaseException as e:  # handed to the caller's thread
                self._error = e
            self._free.put(events.base if events.base is not None else events)

    def close(self) -> None:
        """Write what is queued, then close the file."""
        if self._thread.is_alive():
            self._full.put(None)
            self._thread.join()
        self.writer.close()
        if self._error is not None:
            raise self._error
