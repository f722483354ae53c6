"""The shared-memory event ring for local subscribers: the host publishes, readers in other processes poll.

`ShmPublisher` is the host's side (the C++ `tickgate._driver.ShmProducer`); `ShmSubscriber` reads in Python,
a numpy view over the mapping; C++ clients include `driver/shm_reader.hpp` (`tickgate::shm::Reader`; the
program `reader_program()` is its example). Layout and protocol: `tickgate.protocol.shm_ring`.

    sub = ShmSubscriber.open("tickgate-events")        # start="oldest": what the ring still holds
    while True:
        batch = sub.poll()                              # EVENT_DTYPE records, valid until the next poll
        ...                                             # sub.missed: records overwritten before it read them

The Python reader relies on x86's ordering of loads (TSO) where the C++ reader uses acquire loads and fences.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import struct
from pathlib import Path

import numpy as np

from tickgate.protocol.events import EVENT_DTYPE
from tickgate.protocol.shm_ring import (
    CACHE_LINE,
    CONSUMER_DTYPE,
    CONSUMERS_OFFSET,
    HEADER_BYTES,
    HEADER_DTYPE,
    INFO_DTYPE,
    MAGIC,
    MAX_CONSUMERS,
    PRODUCER_OFFSET,
    RECORD_SIZE,
    VERSION,
    ShmState,
    check_capacity,
)

__all__ = ["SHM_DIR", "ShmPublisher", "ShmSubscriber", "reader_program", "segment_path"]

SHM_DIR = Path("/dev/shm")
DEFAULT_RECORDS = 1 << 16

# Words (u64) of the header a reader polls, from the generated layout.
_HEAD = (PRODUCER_OFFSET + HEADER_DTYPE["producer"].fields["head"][1]) // 8
_CLAIM = (PRODUCER_OFFSET + HEADER_DTYPE["producer"].fields["claim"][1]) // 8
_EPOCH = INFO_DTYPE.fields["epoch"][1] // 8
_STATE = INFO_DTYPE.fields["state"][1] // 4  # a u32
_SLOT_NEXT = CONSUMER_DTYPE.fields["next"][1] // 8  # words of a reader's slot, from the slot's first word
_SLOT_MISSED = CONSUMER_DTYPE.fields["missed"][1] // 8
_SLOT_PID = CONSUMER_DTYPE.fields["pid"][1] // 4


def segment_path(name: str) -> Path:
    """Where segment `name` lives (`/dev/shm/NAME`); a name is one component of [A-Za-z0-9._-]."""
    if not name or name in (".", "..") or len(name) >= 200 or \
            not all(c.isascii() and (c.isalnum() or c in "._-") for c in name):
        raise ValueError(f"shm ring name must be letters, digits, '.', '_' or '-', not {name!r}")
    return SHM_DIR / name


def reader_program() -> Path:
    """The C++ example reader (`shm_ring_reader`), installed beside the extension."""
    import tickgate._driver

    return Path(tickgate._driver.__file__).with_name("shm_ring_reader")


class ShmPublisher:
    """The host's producer: `publish(batch)` after each delivered batch; never waits for a reader."""

    def __init__(self, name: str, records: int = DEFAULT_RECORDS) -> None:
        from tickgate._driver import ShmProducer

        segment_path(name)
        self.producer = ShmProducer(name, check_capacity(records))
        self.publish = self.producer.publish  # the C++ method itself: no Python frame per batch
        self.name = name

    def stats(self) -> dict[str, int]:
        return {"shm_published": self.producer.head}

    def close(self, unlink: bool = False) -> None:
        """Mark the ring closed (readers drain what it holds); `unlink` also removes its name."""
        self.producer.close()
        if unlink:
            self.producer.unlink()


class ShmSubscriber:
    """One reader of a segment: `poll()` the records published since the last poll (up to `max_batch`).

    Every record published after it opened is returned by a poll or counted in `missed`, exactly once.
    `restarts` counts producer restarts seen; `closed`: the producer closed the ring (drain it, then stop);
    `stale`: the name now holds another segment (open a new subscriber).
    """

    def __init__(self, name: str, *, start: str = "newest", max_batch: int = 4096) -> None:
        if start not in ("newest", "oldest"):
            raise ValueError(f"start must be 'newest' or 'oldest', not {start!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be a positive integer, not {max_batch!r}")
        self.name = name
        path = segment_path(name)
        try:
            self._fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            raise FileNotFoundError(f"shm ring {name!r}: no such segment {path} (is the producer running?)") from None
        try:
            size = os.fstat(self._fd).st_size
            if size < HEADER_BYTES:
                raise ValueError(f"shm ring {name!r}: not a tickgate ring (too small)")
            self._map = mmap.mmap(self._fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            info = np.frombuffer(self._map, INFO_DTYPE, count=1)[0]
            if int(info["magic"]) != MAGIC or int(info["version"]) != VERSION or info["record_size"] != RECORD_SIZE:
                raise ValueError(f"shm ring {name!r}: not a tickgate ring of layout version {VERSION}")
            self.capacity = int(info["capacity"])
            check_capacity(self.capacity)
            if HEADER_BYTES + self.capacity * RECORD_SIZE > size:
                raise ValueError(f"shm ring {name!r}: capacity and size disagree")
            self.header = np.frombuffer(self._map, HEADER_DTYPE, count=1)[0]
            self.records = np.frombuffer(self._map, EVENT_DTYPE, count=self.capacity, offset=HEADER_BYTES)
            self._words = memoryview(self._map)[:HEADER_BYTES].cast("Q")
            self._u32 = memoryview(self._map)[:HEADER_BYTES].cast("I")
            slot = self._take_slot()
        except BaseException:
            self._release()
            raise
        self._mask = self.capacity - 1
        self._out = np.empty(min(max_batch, self.capacity), EVENT_DTYPE)
        self._empty = self._out[:0]
        self._epoch = self._words[_EPOCH]
        head = self._words[_HEAD]
        self.next = head if start == "newest" else max(0, head - self.capacity)
        self.missed = 0
        self.restarts = 0
        self._slot = (CONSUMERS_OFFSET + slot * CACHE_LINE) // 8  # the slot's first word
        self._u32[2 * self._slot + _SLOT_PID] = os.getpid()
        words = self._words
        words[self._slot + _SLOT_MISSED] = 0
        words[self._slot + _SLOT_NEXT] = self.next

    @classmethod
    def open(cls, name: str, *, start: str = "newest", max_batch: int = 4096) -> ShmSubscriber:
        """A reader of segment `name`, from the next record published (`newest`) or the oldest still held."""
        return cls(name, start=start, max_batch=max_batch)

    def _take_slot(self) -> int:
        for i in range(MAX_CONSUMERS):
            start = CONSUMERS_OFFSET + i * CACHE_LINE
            lock = struct.pack("hh4xqqi4x", fcntl.F_WRLCK, os.SEEK_SET, start, CACHE_LINE, 0)
            try:
                fcntl.fcntl(self._fd, fcntl.F_OFD_SETLK, lock)
            except OSError:
                continue  # held by another reader
            return i
        raise RuntimeError(f"shm ring {self.name!r}: all {MAX_CONSUMERS} reader slots are taken")

    def poll(self) -> np.ndarray:
        """The records published since the last poll, oldest first (a view valid until the next poll)."""
        words, r = self._words, self.next
        head = words[_HEAD]
        if head == r:
            epoch = words[_EPOCH]
            if epoch != self._epoch:
                self.restarts += epoch - self._epoch
                self._epoch = epoch
            return self._empty
        if head < r:  # only a segment remade under our feet (`stale` says so)
            self.next = head
            return self._empty
        cap = self.capacity
        lo = max(r, head - cap)
        out = self._out
        n = min(head - lo, len(out))
        slot = lo & self._mask
        first = min(n, cap - slot)
        out[:first] = self.records[slot:slot + first]
        if n > first:
            out[first:n] = self.records[:n - first]
        valid = max(lo, words[_CLAIM] - cap)  # copied records below claim - capacity may have been overwritten
        end = lo + n
        start = min(valid, end)
        nxt = max(valid, end)
        self.missed += start - r + nxt - end
        self.next = nxt
        words[self._slot + _SLOT_NEXT] = nxt
        words[self._slot + _SLOT_MISSED] = self.missed
        return out[start - lo:n]

    @property
    def head(self) -> int:
        """Records the producer has published (a reader is behind by head - next)."""
        return self._words[_HEAD]

    @property
    def state(self) -> ShmState:
        return ShmState(self._u32[_STATE])

    @property
    def closed(self) -> bool:
        return self._u32[_STATE] == ShmState.CLOSED

    @property
    def stale(self) -> bool:
        return self._u32[_STATE] == ShmState.STALE

    def _release(self) -> None:
        for view in ("_words", "_u32"):
            v = self.__dict__.pop(view, None)
            if v is not None:
                v.release()
        for arr in ("header", "records", "_out", "_empty"):
            self.__dict__.pop(arr, None)
        m = self.__dict__.pop("_map", None)
        if m is not None:
            with contextlib.suppress(BufferError):  # a caller still holds a view: the mapping goes with it
                m.close()
        if self._fd >= 0:
            os.close(self._fd)  # releases the slot's lock
            self._fd = -1

    def close(self) -> None:
        if self._fd >= 0 and "_slot" in self.__dict__:
            self._u32[2 * self._slot + _SLOT_PID] = 0
        self._release()

    def __enter__(self) -> ShmSubscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
