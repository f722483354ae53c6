"""The replay path's start-up: what `tickgate replay FILE --backend software` imports."""

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


def test_replay_of_a_file_imports_no_amaranth_model_or_dpkt(tmp_path: Path) -> None:
    from tickgate.host.feeds.generator import Generator

    feed = tmp_path / "f.itch50"
    write_binaryfile(feed, Generator(2_000, 5, 1))
    r = subprocess.run([sys.executable, "-c", PROBE, str(feed), str(tmp_path / "e.npy")], capture_output=True,
                       text=True, check=True)
    modules = r.stderr.split()
    assert "tickgate._driver" in modules
    heavy = [m for m in modules if m.split(".")[0] in ("amaranth", "dpkt", "polars", "pyarrow", "tqdm")
             or m.startswith(("tickgate.model", "tickgate.hdl", "tickgate.sim"))]
    assert heavy == []
