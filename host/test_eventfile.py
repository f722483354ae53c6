"""Event files: the .npy writer, and the background writer that overlaps writing with the device's work."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from tickgate.host.eventfile import BackgroundWriter, EventFileWriter
from tickgate.protocol.events import EVENT_DTYPE


def _events(n: int, start: int = 0) -> np.ndarray:
    e = np.zeros(n, dtype=EVENT_DTYPE)
    e["seq"] = np.arange(start, start + n)
    e["kind"] = ord("B")
    return e


def test_background_writer_writes_every_batch_in_order(tmp_path: Path) -> None:
    path = tmp_path / "e.npy"
    w = BackgroundWriter(EventFileWriter(path), chunk_events=100, depth=2)
    at = 0
    for buf, n in zip(w.buffers(), (100, 7, 0, 100, 55, 100, 1), strict=False):
        buf[:n] = _events(n, at)
        w.write(buf[:n])
        at += n
    w.close()
    got = np.load(path)
    assert w.count == at == len(got) and got["seq"].tolist() == list(range(at))


def test_background_writer_hands_buffers_back_only_once_written(tmp_path: Path) -> None:
    w = BackgroundWriter(EventFileWriter(tmp_path / "e.npy"), chunk_events=10, depth=3)
    seen = {id(b) for b in itertools.islice(w.buffers(), 3)}
    assert len(seen) == 3
    w.close()


def test_an_error_of_the_writer_reaches_the_caller(tmp_path: Path) -> None:
    w = BackgroundWriter(EventFileWriter(tmp_path / "e.npy"), chunk_events=10, depth=1)
    buf = next(w.buffers())
    w.write(buf.view(np.uint8)[:64])  # not EVENT_DTYPE: the writer refuses it on its thread
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        w.close()
