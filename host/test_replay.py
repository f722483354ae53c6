"""The replay path: what `tickgate replay FILE --backend software` imports, and the events its native path
(`FileFeed.run_to_fd`, the .npy header written without numpy) writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tickgate.protocol.binaryfile import write_binaryfile

PROBE = """
import sys
from tickgate.host.cli import main
main(["replay", sys.argv[1], "--backend", "software", "--events", sys.argv[2], "--no-progress"])
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_replay_of_a_file_imports_no_numpy_amaranth_model_or_dpkt(tmp_path: Path) -> None:
    from tickgate.host.feeds.generator import Generator

    feed = tmp_path / "f.itch50"
    write_binaryfile(feed, Generator(2_000, 5, 1))
    r = subprocess.run([sys.executable, "-c", PROBE, str(feed), str(tmp_path / "e.npy")], capture_output=True,
                       text=True, check=True)
    modules = r.stderr.split()
    assert "tickgate._driver" in modules
    heavy = [m for m in modules if m.split(".")[0] in ("numpy", "amaranth", "dpkt", "polars", "pyarrow", "tqdm")
             or m.startswith(("tickgate.model", "tickgate.hdl", "tickgate.sim"))]
    assert heavy == []


def test_native_npy_equals_the_batches_and_numpys_header(tmp_path: Path) -> None:
    import numpy as np
    from numpy.lib import format as npy_format

    import tickgate
    from tickgate.host.backend import open_backend
    from tickgate.host.eventfile import EventFileWriter, event_descr
    from tickgate.host.feeds.generator import Generator
    from tickgate.host.replay import replay_file
    from tickgate.protocol.events import EVENT_DTYPE

    assert event_descr() == npy_format.dtype_to_descr(EVENT_DTYPE)
    feed = tmp_path / "f.itch50"
    write_binaryfile(feed, Generator(20_000, 20, 3))
    out = tmp_path / "e.npy"
    result = replay_file(feed, open_backend("software"), events_path=out)  # the native path
    batches = tickgate.replay(feed, backend="software", chunk_events=1000)  # batches through Python
    expected = np.concatenate(list(batches))
    got = np.load(out)
    assert got.dtype == EVENT_DTYPE and len(got) == result.events == len(expected) > 1000
    assert got.tobytes() == expected.tobytes()
    assert result.counters == batches.counters and result.feed == batches.feed
    with open(out, "rb") as f:  # the header is the one EventFileWriter writes, numpy's own reader takes it
        assert f.read(len(EventFileWriter._header(len(got)))) == EventFileWriter._header(len(got))
        f.seek(0)
        assert npy_format.read_magic(f) == (1, 0)
        assert npy_format.read_array_header_1_0(f) == ((len(got),), False, EVENT_DTYPE)
    dropped = replay_file(feed, open_backend("software"))  # no events file: the same run, events dropped
    assert dropped.events == result.events and dropped.counters == result.counters
