"""The A/B benchmark (tests/bench_ab.py) short: 20,000 messages, 1 % independent loss per line, on the C++ card
and the reference model: no gap where a line had the packet, the gaps exactly what both lines lost, and the
events of the lossless replay (of every packet some line had, where both lost one)."""

from __future__ import annotations

import pytest

from tests.bench_ab import day, run_ab
from tickgate.host.feeds.lines import two_lines

PACKETS = day(20_000, 50, 3)


@pytest.mark.parametrize("backend", ["software", "model"])
@pytest.mark.parametrize(("seed", "loss"), [(1, 0.01), (2, 0.1)])  # 1 %: none lost on both; 10 %: a few
def test_ab_replay_loses_only_what_both_lines_lost(backend: str, seed: int, loss: float) -> None:
    lines = two_lines(PACKETS, loss, seed)
    r = run_ab(backend, PACKETS, lines)
    assert r.lost_a > 0 and r.lost_b > 0 and (r.lost_both > 0) == (loss > 0.05)
    assert r.gaps_where_a_line_had_it == 0 and r.messages_missed == r.messages_lost_both
    assert r.equal_some_line and r.equal_lossless == (r.lost_both == 0)
    assert r.line_counters["line_a_used"] + r.line_counters["line_b_used"] == len(PACKETS) - r.lost_both - 1
