"""Events as tables: decoded columns (host.frames), Parquet from `tickgate replay`, the `tickgate.replay` API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import tickgate
from tickgate.host.cli import main
from tickgate.host.feeds.generator import Generator
from tickgate.protocol.binaryfile import write_binaryfile
from tickgate.protocol.events import EVENT_DTYPE, EventKind, as_kind


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("frames") / "feed.itch50.gz"
    write_binaryfile(path, Generator(20_000, 30, 3))
    return path


def test_api_yields_event_batches_then_counters(feed: Path) -> None:
    batches = tickgate.replay(feed, backend="software", chunk_events=4096)
    assert batches.counters is None
    parts = list(batches)
    assert all(p.dtype == EVENT_DTYPE and 0 < len(p) <= 4096 for p in parts)
    assert batches.counters["messages"] == 20_000 == batches.feed["file_messages"]
    assert batches.counters["events"] == sum(map(len, parts))


def test_frame_decodes_symbols_and_prices(feed: Path) -> None:
    batches = tickgate.replay(feed)
    events = np.concatenate(list(batches))
    directory = batches.directory()
    df = tickgate.events_frame(events, directory)
    assert isinstance(df, pl.DataFrame) and len(df) == len(events)
    bbo = df.filter(pl.col("kind") == "B")
    raw = events[events["kind"] == EventKind.BBO]
    assert bbo["bid_px"].to_numpy().tolist() == raw["bid_px"].tolist()
    bid = raw["bid_px"].astype(float) / 10_000
    assert np.allclose(bbo["bid_price"].fill_null(0.0).to_numpy(), bid)
    assert bbo["symbol"].to_list() == [directory[int(k)] for k in raw["locate"]]
    trades = df.filter(pl.col("kind") == "T")
    assert trades["trade_shares"].to_list() == as_kind(events, EventKind.TRADE)["trade_shares"].tolist()
    assert df.filter(pl.col("kind") != "B")["bid_px"].null_count() == len(df) - len(bbo)


def test_replay_writes_parquet_and_npy_alike(feed: Path, tmp_path: Path) -> None:
    npy, parquet = tmp_path / "e.npy", tmp_path / "e.parquet"
    assert main(["replay", str(feed), "--backend", "software", "--events", str(npy), "--no-progress"]) == 0
    assert main(["replay", str(feed), "--backend", "software", "--events", str(parquet), "--no-progress"]) == 0
    events = np.load(npy)
    df = pl.read_parquet(parquet)
    assert len(df) == len(events) and df["seq"].to_list() == events["seq"].tolist()
    assert df["kind"].to_list() == [chr(k) for k in events["kind"]]


def test_api_takes_a_generated_source_and_packets_alike(feed: Path) -> None:
    from tickgate.host.feeds.sources import open_source
    from tickgate.protocol.events import comparable

    gen = tickgate.replay("gen:20000:30:3", backend="software", chunk_events=5000)
    from_gen = np.concatenate(list(gen))
    assert gen.counters["messages"] == 20_000 and gen.feed["gen_messages"] == 20_000
    from_packets = np.concatenate(list(tickgate.replay(open_source("gen:20000:30:3"), backend="model")))
    from_file = np.concatenate(list(tickgate.replay(feed, backend="software")))
    assert np.array_equal(comparable(from_gen), comparable(from_packets))
    assert np.array_equal(comparable(from_gen), comparable(from_file))
