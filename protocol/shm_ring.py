"""The shared-memory event ring: one producer (the host), many local readers, the 64-byte event records.

A POSIX shared-memory segment (`/dev/shm/NAME`) of `HEADER_BYTES` of header, then `capacity` records
(a power of two) of `events.EVENT_SIZE` bytes each; record index `i` (free-running, from 0) lives in slot
`i % capacity`. The header is cache lines of 64 bytes, each written by one party only:

- line 0, `INFO_FIELDS`: what the segment is (magic, version, record size, capacity) and the producer's
  `epoch` (1 when created, +1 on each producer restart) and `state` (`ShmState`);
- line 1, `PRODUCER_FIELDS`: `head` (records published) and `claim` (records being written), alone on
  their line;
- lines 2.., `CONSUMER_FIELDS`, one line per reader slot (`MAX_CONSUMERS`): a reader owns a slot by an
  open-file-description lock on its bytes (released when the reader dies) and writes its progress there.
  The producer never reads them: a slow reader never holds it back.

Publishing `n` records at `head = w`: store `claim = w + n`, fence, write the slots, store `head = w + n`
(release). Reading from `r`: load `head` (acquire); records below `head - capacity` are gone (missed);
copy the others; fence (acquire); load `claim`: any copied record below `claim - capacity` may have been
overwritten during the copy and is counted missed too. Every index below `head` is thus either delivered
or counted missed, exactly once. A producer restarting on a segment of the same layout keeps it and its
indices (`epoch` + 1, publishing from `head`; a batch a crashed producer left half written is never
delivered); a segment of another layout is marked `STALE` and replaced.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .events import EVENT_SIZE

__all__ = [
    "CACHE_LINE", "CONSUMERS_OFFSET", "CONSUMER_DTYPE", "CONSUMER_FIELDS", "HEADER_BYTES", "HEADER_DTYPE",
    "INFO_DTYPE", "INFO_FIELDS", "INFO_OFFSET", "MAGIC", "MAX_CONSUMERS", "PRODUCER_DTYPE", "PRODUCER_FIELDS",
    "PRODUCER_OFFSET", "RECORD_SIZE", "VERSION", "ShmField", "ShmState", "check_capacity", "segment_bytes",
]

CACHE_LINE = 64
MAGIC = int.from_bytes(b"TGEVRING", "little")  # the first 8 bytes of a segment
VERSION = 1
RECORD_SIZE = EVENT_SIZE
HEADER_BYTES = 4096  # one page: the info line, the producer line and the reader slots
INFO_OFFSET = 0
PRODUCER_OFFSET = CACHE_LINE
CONSUMERS_OFFSET = 2 * CACHE_LINE
MAX_CONSUMERS = (HEADER_BYTES - CONSUMERS_OFFSET) // CACHE_LINE


class ShmState(IntEnum):
    """`state` of a segment."""

    LIVE = 1  # a producer has it open
    CLOSED = 2  # its producer closed it; what it holds can still be read
    STALE = 3  # replaced by a segment of another layout under the same name: reopen by name


@dataclass(frozen=True)
class ShmField:
    """One field of a header line: name, byte offset in the line, numpy type (little-endian), meaning."""

    name: str
    offset: int
    dtype: str
    doc: str


INFO_FIELDS: tuple[ShmField, ...] = (
    ShmField("magic", 0, "<u8", "MAGIC, written last when a segment is made"),
    ShmField("version", 8, "<u4", "VERSION of this layout"),
    ShmField("record_size", 12, "<u4", "bytes per record (the event record)"),
    ShmField("capacity", 16, "<u8", "records the ring holds, a power of two"),
    ShmField("epoch", 24, "<u8", "1 when made, +1 on every producer restart on the same segment"),
    ShmField("state", 32, "<u4", "ShmState"),
    ShmField("producer_pid", 36, "<u4", "process id of the producer that last opened it"),
    ShmField("created_ns", 40, "<u8", "CLOCK_REALTIME ns when the segment was made"),
)

PRODUCER_FIELDS: tuple[ShmField, ...] = (
    ShmField("head", 0, "<u8", "records published (free-running index of the next record)"),
    ShmField("claim", 8, "<u8", "records being written: slots of indices below claim - capacity are reused"),
)

CONSUMER_FIELDS: tuple[ShmField, ...] = (
    ShmField("next", 0, "<u8", "the index the reader reads next"),
    ShmField("missed", 8, "<u8", "records the reader was too slow for, overwritten before it read them"),
    ShmField("pid", 16, "<u4", "process id of the reader holding the slot; 0 if free"),
)


def _line_dtype(fields: tuple[ShmField, ...]) -> np.dtype:
    spans = sorted((f.offset, f.offset + np.dtype(f.dtype).itemsize, f.name) for f in fields)
    for (_a0, a1, an), (b0, _b1, bn) in itertools.pairwise(spans):
        if b0 < a1:
            raise ValueError(f"shm header fields {an} and {bn} overlap")
    if spans[-1][1] > CACHE_LINE:
        raise ValueError(f"shm header field {spans[-1][2]} ends past its {CACHE_LINE}-byte line")
    return np.dtype({"names": [f.name for f in fields], "formats": [f.dtype for f in fields],
                     "offsets": [f.offset for f in fields], "itemsize": CACHE_LINE})


INFO_DTYPE = _line_dtype(INFO_FIELDS)
PRODUCER_DTYPE = _line_dtype(PRODUCER_FIELDS)
CONSUMER_DTYPE = _line_dtype(CONSUMER_FIELDS)
HEADER_DTYPE = np.dtype({"names": ["info", "producer", "consumers"],
                         "formats": [INFO_DTYPE, PRODUCER_DTYPE, (CONSUMER_DTYPE, (MAX_CONSUMERS,))],
                         "offsets": [INFO_OFFSET, PRODUCER_OFFSET, CONSUMERS_OFFSET], "itemsize": HEADER_BYTES})


def check_capacity(records: int) -> int:
    """`records` if it is a power of two of at least 2, else ValueError."""
    if not isinstance(records, int) or records < 2 or records & (records - 1):
        raise ValueError(f"shm ring capacity must be a power of two of at least 2 records, not {records!r}")
    return records


def segment_bytes(records: int) -> int:
    """The size of a segment of `records` records."""
    return HEADER_BYTES + check_capacity(records) * RECORD_SIZE
