"""`tickgate verify`: shards of a day on Ray, a backend against the model; a difference planted in one shard's
backend input (one message with one share more, as an RTL bug would see it) is found in that shard, at the
first event that message changes, and nowhere else."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tickgate.host.backend import open_backend
from tickgate.host.feeds import pack_messages
from tickgate.host.parallel import map_tasks
from tickgate.host.verify import GEOMETRIES, SESSION, ShardSpec, balance, prepare, shard_messages, verify_shard
from tickgate.host.verify_split import ShardChunk, chunk_packets, shard_chunks
from tickgate.protocol.config import CardConfig
from tickgate.protocol.events import EventKind

SHARDS = 2
SMALL = GEOMETRIES["small"]
CONFIG = CardConfig(order_table=SMALL.order_table, max_levels=SMALL.levels, max_symbols=SMALL.symbols,
                    level_events=True)


@pytest.fixture(scope="module")
def day(generated):
    return generated(6_000, 20, 21)


def first_bbo_add(path, shard: int) -> tuple[int, int]:
    """(shard message number, the day's message number) of the first Add in the shard that moves a top of book."""
    pairs = list(shard_messages(path, shard, SHARDS))
    model = open_backend("model", CONFIG)
    for p in pack_messages((m for _, m in pairs), session=SESSION):
        model.feed(p, 0)
    ev = model.take_events()
    hit = ev[(ev["kind"] == EventKind.BBO) & (ev["msg_type"] == ord("A"))][0]
    n = int(hit["seq"])
    return n, pairs[n - 1][0]


def run(day, backend: str, plant=None) -> list[dict]:
    spec = prepare(ShardSpec(backend=backend, config=CONFIG, geometry=SMALL, plant=plant))  # as the CLI does
    return map_tasks(verify_shard, [(str(day), s, SHARDS, spec) for s in range(SHARDS)], workers=SHARDS)


def check_planted(day, backend: str) -> None:
    clean = run(day, backend)
    assert [r["ok"] for r in clean] == [True] * SHARDS
    assert all(r["events"] > 0 and r["mismatched_events"] == 0 for r in clean)
    n, message = first_bbo_add(day, 1)
    planted = run(day, backend, plant=(1, n))
    times = {k: planted[0][k] for k in ("seconds", "cpu_seconds")}
    assert planted[0] == clean[0] | times  # the other shard: untouched
    bad = planted[1]
    assert not bad["ok"] and bad["mismatched_events"] > 0
    first = bad["first_mismatch"]
    assert first["message"] == message
    assert first["model"]["seq"] == first["backend"]["seq"] == n
    assert first["model"]["kind"] in (EventKind.BBO, EventKind.LEVEL)  # a level event comes before the BBO
    assert first["model"] != first["backend"]


def test_shards_cover_the_day_once(day):
    per_shard = [list(shard_messages(day, s, SHARDS)) for s in range(SHARDS)]
    numbers = sorted({n for shard in per_shard for n, _ in shard})
    assert numbers == list(range(1, numbers[-1] + 1))
    for s, shard in enumerate(per_shard):
        assert all(int.from_bytes(m[1:3], "big") % SHARDS in (s, 0) or m[1:3] == b"\0\0" for _, m in shard)


def test_balanced_shards_cover_the_day_once_and_are_even(day):
    assign = balance(day, SHARDS)
    per_shard = [list(shard_messages(day, s, SHARDS, assign)) for s in range(SHARDS)]
    numbers = sorted({n for shard in per_shard for n, _ in shard})
    assert numbers == list(range(1, numbers[-1] + 1))
    owner = {}
    for s, shard in enumerate(per_shard):
        for _, m in shard:
            if m[1:3] != b"\0\0":
                assert owner.setdefault(m[1:3], s) == s  # a locate in one shard only
    sizes = [len(shard) for shard in per_shard]
    modulo = [len(list(shard_messages(day, s, SHARDS))) for s in range(SHARDS)]
    assert max(sizes) - min(sizes) <= max(modulo) - min(modulo) and max(sizes) - min(sizes) < 0.05 * sum(sizes)


def test_frame_offsets():
    from tickgate._driver import frame_offsets

    starts, used, ended = frame_offsets(b"\0\3abc\0\2xy\0")  # a length cut short: read on from `used`
    assert starts.tolist() == [0, 5] and used == 9 and not ended
    starts, used, ended = frame_offsets(b"\0\1a\0\0\0\1b")  # the end-of-session marker: nothing after it
    assert starts.tolist() == [0] and used == 3 and ended


@pytest.mark.parametrize("split", ["modulo", "balanced"])
def test_native_split_is_the_python_split(day, tmp_path, monkeypatch, split):
    """The native read (C++ framing, numpy selection) gives the shard's messages, numbers and packets exactly as
    the per-message Python reference does, in small read chunks (messages cut by a chunk's end) and from gzip."""
    import gzip

    import tickgate.host.verify_split as vs

    monkeypatch.setattr(vs, "READ_BYTES", 1000)
    zipped = tmp_path / "day.itch50.gz"
    zipped.write_bytes(gzip.compress(day.read_bytes() + b"\0\0" + b"\0\5after"))  # ends at the marker
    assign = balance(day, 3) if split == "balanced" else None
    if assign:
        assert balance(zipped, 3) == assign
    for path in (day, zipped):
        for shard in range(3):
            want = list(shard_messages(path, shard, 3, assign))
            chunks = list(shard_chunks(path, shard, 3, assign))
            assert len(chunks) > 10
            assert [int(n) for c in chunks for n in c.numbers] == [n for n, _ in want]
            assert [c.message(i) for c in chunks for i in range(len(c.ends))] == [m for _, m in want]
            whole = ShardChunk(b"".join(c.frames for c in chunks), np.cumsum(
                [int(c.ends[i]) - (int(c.ends[i - 1]) if i else 0) for c in chunks for i in range(len(c.ends))]), None)
            assert chunk_packets(whole.frames, whole.ends, SESSION, 1) == list(
                pack_messages((m for _, m in want), session=SESSION))


def test_planted_difference_found_software(ray_local, day):
    check_planted(day, "software")


@pytest.fixture(scope="module")
def sim_library():
    pytest.importorskip("tickgate.sim.verilated.build").library_for(SMALL)


def test_planted_difference_found_verilated(ray_local, day, sim_library):
    check_planted(day, "sim")


def test_cli_reports_per_shard(ray_local, day, capsys):
    from tickgate.host.cli import main

    sizes = {}
    args = ["verify", str(day), "--backend", "software", "--shards", "3", "--level-events", "--json", "--no-progress"]
    for split, extra in (("balanced", []), ("modulo", ["--no-balance"])):
        assert main(args + extra) == 0
        out = capsys.readouterr().out.strip().splitlines()
        res = json.loads(out[-1])
        assert [r["shard"] for r in res["shards"]] == [0, 1, 2] and res["mismatched_shards"] == 0
        assert sum(line.endswith(" ok") for line in out[:-1]) == 3
        sizes[split] = [r["messages"] for r in res["shards"]]
    assert [len(list(shard_messages(day, s, 3))) for s in range(3)] == sizes["modulo"]  # locate % 3
    assert max(sizes["balanced"]) - min(sizes["balanced"]) <= max(sizes["modulo"]) - min(sizes["modulo"])
