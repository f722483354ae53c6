"""Writing book events to a `.npy` file of EVENT_DTYPE as they come, in bounded memory."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np
from numpy.lib import format as npy_format

from tickgate.protocol.events import EVENT_DTYPE, EVENT_SIZE


def _header_body(count: int) -> bytes:
    d = {"descr": npy_format.dtype_to_descr(EVENT_DTYPE), "fortran_order": False, "shape": (count,)}
    return repr(d).encode("latin1")


# Fixed header length (room for any count), so the final shape can be written over the placeholder.
_HEADER_LEN = -(-(len(npy_format.magic(1, 0)) + 2 + len(_header_body(10**19)) + 1) // 64) * 64


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
        magic = npy_format.magic(1, 0)
        pad = _HEADER_LEN - len(magic) - 2 - len(body) - 1
        if pad < 0:
            raise AssertionError("event dtype description outgrew the fixed .npy header")
        return magic + (len(body) + pad + 1).to_bytes(2, "little") + body + b" " * pad + b"\n"

    def write(self, events: np.ndarray) -> None:
        if events.dtype != EVENT_DTYPE:
            raise TypeError(f"expected EVENT_DTYPE records, got {events.dtype}")
        self._f.write(np.ascontiguousarray(events).view(np.uint8).data)  # no copy of a contiguous array
        self.count += len(events)

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
