"""Two lines of one stream (`host/feeds/lines.py`): seeded independent loss, and their merge in time order."""

from __future__ import annotations

import pytest

from tickgate.host.feeds.lines import MergedLines, two_lines
from tickgate.protocol.packet import Packet

STREAM = [bytes([i % 256]) * 30 for i in range(20_000)]


def test_loss_is_seeded_independent_and_near_its_rate():
    one, again, other = (two_lines(STREAM, 0.01, seed) for seed in (5, 5, 6))
    assert one.lost_a == again.lost_a and one.lost_b == again.lost_b and one.lost_a != other.lost_a
    assert 140 < len(one.lost_a) < 260 and 140 < len(one.lost_b) < 260 and one.lost_a != one.lost_b
    assert len(one.lost_both) <= 10  # about 20000 * 1e-4
    assert len(one.a) + len(one.lost_a) == len(one.b) + len(one.lost_b) == len(STREAM)
    assert one.b[0].rx_ns - one.a[0].rx_ns == 250 or 0 in one.lost_a | one.lost_b


def test_loss_and_skew_are_validated():
    with pytest.raises(ValueError, match=r"loss must be a fraction from 0 up to \(not including\) 1, not 1"):
        two_lines(STREAM, 1, 0)
    with pytest.raises(ValueError, match="skew_ns must be from 0 up to step_ns"):
        two_lines(STREAM, 0.1, 0, step_ns=100, skew_ns=100)


def test_merge_is_in_time_order_line_a_first_on_a_tie():
    a = [Packet(b"a1", 10), Packet(b"a2", 30)]
    b = [Packet(b"b1", 10), Packet(b"b2", 20), Packet(b"b3", 40)]
    assert list(MergedLines(a, b)) == [(b"a1", 10, 0), (b"b1", 10, 1), (b"b2", 20, 1), (b"a2", 30, 0),
                                       (b"b3", 40, 1)]
    assert MergedLines(a, b).stats() == {}


def test_without_receive_times_the_merge_is_by_sequence_number():
    from tickgate.protocol import moldudp64 as mold

    p = [mold.build("S", seq, [b"x"]) for seq in (1, 2, 3, 4)]
    a, b = [Packet(p[0]), Packet(p[2]), Packet(p[3])], [Packet(p[0]), Packet(p[1]), Packet(p[3])]
    assert [(bytes(q[0]), q[2]) for q in MergedLines(a, b)] == [(p[0], 0), (p[0], 1), (p[1], 1), (p[2], 0),
                                                                (p[3], 0), (p[3], 1)]


@pytest.mark.parametrize("backend", ["model", "software"])
def test_a_backend_takes_packets_with_their_line_fed_or_ticked(backend: str) -> None:
    """`Backend.feed(..., line)` (batched) and `Backend.tick(..., line)` (at once) give the card the same lines:
    A loses packet 1, B packet 2; no gap either way; `end_of_input` releases nothing more here."""
    import numpy as np

    from tickgate.host.backend import open_backend
    from tickgate.protocol import itch
    from tickgate.protocol import moldudp64 as mold
    from tickgate.protocol.config import CardConfig
    from tickgate.protocol.events import EVENT_DTYPE, comparable

    stream = [mold.build("SESS", 1 + i, [itch.encode(itch.make("S", timestamp=i, event_code="O"))]) for i in range(5)]
    feed = [(p, n, line) for n, p in enumerate(stream) for line in (0, 1) if (line, n) not in ((0, 1), (1, 2))]
    fed, ticked = (open_backend(backend, CardConfig(line_window=4)) for _ in range(2))
    out = np.empty(16, dtype=EVENT_DTYPE)
    got = []
    for p, n, line in feed:
        fed.feed(p, n, line)
        got.append(out[:ticked.tick(p, n, out, line)].copy())
    fed.end_of_input()
    ticked.end_of_input()
    a, b = fed.take_events(), np.concatenate([*got, ticked.take_events()])
    assert len(a) == 5 and np.array_equal(comparable(a), comparable(b))
    assert fed.counters() == ticked.counters() and fed.counters()["seq_gaps"] == 0
    assert fed.counters()["line_b_used"] == 1 and fed.counters()["line_a_used"] == 4
