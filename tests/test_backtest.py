"""`tickgate backtest`: days on Ray give the same bytes whatever the worker count, and agree with one day
run in-process; the rows, the fills and the totals agree with each other."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tickgate.host.backtest.day import DaySpec, run_day
from tickgate.host.backtest.fills import Latency
from tickgate.host.cli import main


@pytest.fixture(scope="module")
def days(generated):
    return [generated(40_000, 30, seed) for seed in (11, 12, 13)]


def _backtest(capsys, days, out, *extra) -> dict:
    assert main(["backtest", *map(str, days), "--out", str(out), "--json", "--no-progress", *extra]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("strategy", ["imbalance", "market_maker"])
def test_same_bytes_whatever_the_worker_count(ray_local, days, tmp_path, capsys, strategy):
    args = ("--strategy", strategy, "--latency", "5:20", "--fees", "0.003:-0.002")
    one = _backtest(capsys, days, tmp_path / "w1", "--workers", "1", *args)
    two = _backtest(capsys, days, tmp_path / "w2", "--workers", "2", *args)
    assert one == two
    for name in ("days.parquet", "fills.parquet", "equity.png"):
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes(), name
    assert [r["day"] for r in one["days"]] == [d.name for d in days]
    assert one["totals"]["fills"] > 0


def test_rows_fills_and_totals_agree(ray_local, days, tmp_path, capsys):
    res = _backtest(capsys, days, tmp_path, "--strategy", "market_maker")
    fills = pq.read_table(tmp_path / "fills.parquet").to_pydict()
    rows = pq.read_table(tmp_path / "days.parquet").to_pylist()
    assert rows == res["days"]
    for r in rows:
        mine = [i for i, d in enumerate(fills["day"]) if d == r["day"]]
        assert len(mine) == r["fills"]
        assert sum(fills["shares"][i] for i in mine) == r["filled_shares"]
        assert sum(fills["shares"][i] for i in mine if fills["liquidity"][i] == "R") == r["taken_shares"]
        assert max(abs(fills["position"][i]) for i in mine) == r["max_position"]
    assert res["totals"]["fills"] == sum(r["fills"] for r in rows) == len(fills["day"])
    assert res["totals"]["cancels"] > 0  # the market maker re-quotes: cancels reach the simulator
    assert any(liq == "A" for liq in fills["liquidity"])  # and resting quotes are reached in the queue


def test_a_ray_task_and_an_in_process_day_agree(ray_local, days, tmp_path, capsys):
    res = _backtest(capsys, days[:1], tmp_path, "--latency", "5:20")
    local = run_day(days[0], DaySpec(latency=Latency(5, 20)))
    assert res["days"][0] == local.row


def test_latency_changes_what_fills(days):
    quick = run_day(days[0], DaySpec(strategy="market_maker"))
    slow = run_day(days[0], DaySpec(strategy="market_maker", latency=Latency(500, 500)))
    assert quick.row["fills"] > 0 and quick.row != slow.row


def test_bad_arguments_are_refused(days, capsys):
    assert main(["backtest", str(days[0]), "--latency", "5"]) == 2
    assert "FEED_US:ORDER_US" in capsys.readouterr().err
    assert main(["backtest", "/nonexistent.itch50"]) == 2
    assert "no such feed file" in capsys.readouterr().err
    assert main(["backtest", str(days[0]), "--strategy", "nope"]) == 2
    assert "unknown strategy" in capsys.readouterr().err


def test_native_and_reference_books_give_the_same_day(days):
    for strategy in ("imbalance", "market_maker"):
        native = run_day(days[1], DaySpec(strategy=strategy, latency=Latency(5, 20)))
        reference = run_day(days[1], DaySpec(strategy=strategy, latency=Latency(5, 20), native_book=False))
        assert native.row == reference.row and native.fills == reference.fills
        assert native.row["fills"] > 0


def test_only_changes_that_cannot_reach_ours_are_left_out(days, monkeypatch):
    """The book reports only the changes that can reach our orders: reporting every change of their symbols (the
    reference book with its filter off) gives the same day."""
    from tickgate.host.backtest.feed_book import PyFeedBook

    spec = DaySpec(strategy="market_maker", latency=Latency(5, 20))
    filtered = run_day(days[2], spec)
    with monkeypatch.context() as m:
        m.setattr(PyFeedBook, "watch", lambda self, locate, buy, lo, hi: self.ours.__setitem__(locate << 1 | buy, 0))
        m.setattr(PyFeedBook, "reaches", lambda self, kind, locate, buy, price: (locate << 1) in self.ours
                  or (locate << 1 | 1) in self.ours)
        everything = run_day(days[2], DaySpec(strategy="market_maker", latency=Latency(5, 20), native_book=False))
    assert filtered.row == everything.row and filtered.fills == everything.fills
    assert filtered.row["fills"] > 0
