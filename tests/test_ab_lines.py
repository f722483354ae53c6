"""The A/B benchmark (tests/bench_ab.py) short: 20,000 messages, 1 % independent loss per line, on the C++ card
and the reference model: no gap where a line had the packet, the gaps exactly what both lines lost, and the
events of the lossless replay (of every packet some line had, where both lost one). Then the RTL: the Verilated
pipeline (`sim` backend, its line arbiter `hdl.lines`) on two lossy lines, events and every counter equal to the
model's and the C++ card's."""

from __future__ import annotations

import numpy as np
import pytest

from tests.bench_ab import _replay, day, run_ab
from tickgate.host.backend_sim import SimOptions
from tickgate.host.feeds.lines import MergedLines, two_lines
from tickgate.protocol.config import LINE_WINDOW, BookGeometry, CardConfig, OrderTableConfig
from tickgate.protocol.events import comparable

PACKETS = day(20_000, 50, 3)
#: The RTL tests' geometry (as tests/test_rtl_pipeline.py: one simulator build).
GEOMETRY = BookGeometry(symbols=64, levels=16, names=8, order_table=OrderTableConfig(bucket_bits=8, ways=4, stash=4))


@pytest.mark.parametrize("backend", ["software", "model"])
@pytest.mark.parametrize(("seed", "loss"), [(1, 0.01), (2, 0.1)])  # 1 %: none lost on both; 10 %: a few
def test_ab_replay_loses_only_what_both_lines_lost(backend: str, seed: int, loss: float) -> None:
    lines = two_lines(PACKETS, loss, seed)
    r = run_ab(backend, PACKETS, lines)
    assert r.lost_a > 0 and r.lost_b > 0 and (r.lost_both > 0) == (loss > 0.05)
    assert r.gaps_where_a_line_had_it == 0 and r.messages_missed == r.messages_lost_both
    assert r.equal_some_line and r.equal_lossless == (r.lost_both == 0)
    assert r.line_counters["line_a_used"] + r.line_counters["line_b_used"] == len(PACKETS) - r.lost_both - 1


@pytest.mark.parametrize(("window", "skew_ns"), [(LINE_WINDOW, 300), (2, 900)])
def test_rtl_arbitrates_as_the_model_and_the_card(window: int, skew_ns: int) -> None:
    """3,000 messages on two lines with 10 % independent loss each (some packets lost on both: gaps), B a
    fraction of a packet behind A: the RTL's events and counters (the per-line ones included) equal the
    model's and the C++ card's byte for byte, receive times aside."""
    packets = day(3_000, 20, 4)  # 70 packets
    lines = two_lines(packets, 0.1, 2, skew_ns=skew_ns)  # 2 lost on both
    assert lines.lost_both and lines.lost_a - lines.lost_both and lines.lost_b - lines.lost_both
    config = CardConfig(line_window=window, max_symbols=GEOMETRY.symbols, max_levels=GEOMETRY.levels,
                        order_table=GEOMETRY.order_table)
    feed = list(MergedLines(lines.a, lines.b))
    sim_events, sim_counters = _replay("sim", config, feed, sim=SimOptions(GEOMETRY))
    assert sim_counters["seq_gaps"] > 0 and sim_counters["line_a_received"] == len(lines.a)
    for backend in ("model", "software"):
        events, counters = _replay(backend, config, feed)
        assert len(sim_events) == len(events) and np.array_equal(comparable(sim_events), comparable(events))
        assert {k: v for k, v in sim_counters.items() if counters.get(k, 0) != v} == {}, backend
