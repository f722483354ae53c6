"""A/B line arbitration of the reference model (`model/lines.py`)."""

from __future__ import annotations

import pytest

from tickgate.model.card import ReferenceCard
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import CardConfig
from tickgate.protocol.events import EventKind, comparable

A, B = 0, 1


def pkt(seq: int, n: int = 1, session: str = "SESS") -> bytes:
    return mold.build(session, seq, [itch.encode(itch.make("S", timestamp=seq + i, event_code="O")) for i in range(n)])


STREAM = [pkt(s) for s in range(1, 41)]  # message k in packet k-1


def run(feed: list[tuple[int, bytes]], window: int | None = 4) -> ReferenceCard:
    card = ReferenceCard(CardConfig(line_window=window))
    for n, (line, p) in enumerate(feed):
        card.feed(p, n, line)
    card.end_of_input()
    return card


def status(card: ReferenceCard) -> list[int]:
    ev = card.take_events()
    return ev["seq"][ev["kind"] == EventKind.STATUS].tolist()


def interleave(lost_a: set[int], lost_b: set[int]) -> list[tuple[int, bytes]]:
    out = []
    for i, p in enumerate(STREAM):
        out += [(A, p)] * (i not in lost_a) + [(B, p)] * (i not in lost_b)
    return out


def lines(card: ReferenceCard, what: str) -> tuple[int, int]:
    return card.counters[f"line_a_{what}"], card.counters[f"line_b_{what}"]


def test_a_message_lost_on_one_line_is_no_gap():
    card = run(interleave({3, 10, 11, 12}, {5, 20}))
    assert status(card) == list(range(1, 41))
    assert card.counters["seq_gaps"] == 0
    assert lines(card, "received") == (36, 38)
    assert sum(lines(card, "used")) == 40 and sum(lines(card, "duplicate")) == 34 and lines(card, "late") == (0, 0)


def test_a_message_lost_on_both_lines_is_a_gap_at_once():
    card = run(interleave({7, 8}, {8}))
    assert status(card) == [s for s in range(1, 41) if s != 9]
    assert (card.counters["seq_gaps"], card.counters["messages_missed"]) == (1, 1)


def test_the_first_copy_wins_whichever_line_leads():
    b_first = [(line, p) for p in STREAM for line in (B, A)]
    card = run(b_first)
    assert status(card) == list(range(1, 41))
    assert lines(card, "used") == (0, 40) and lines(card, "duplicate") == (40, 0)


def test_lines_out_of_step_within_the_window_lose_nothing():
    a = [(A, p) for i, p in enumerate(STREAM) if i != 10]
    b = [(B, p) for p in STREAM]
    feed = []
    for i in range(len(STREAM)):  # B runs three packets behind A
        feed += a[i:i + 1] + (b[i - 3:i - 2] if i >= 3 else [])
    feed += b[len(STREAM) - 3:]
    card = run(feed)
    assert status(card) == list(range(1, 41)) and card.counters["seq_gaps"] == 0


def test_a_line_too_far_behind_comes_late():
    feed = [(A, p) for i, p in enumerate(STREAM) if i != 5] + [(B, p) for p in STREAM]
    card = run(feed, window=4)
    assert (card.counters["seq_gaps"], card.counters["messages_missed"]) == (1, 1)
    assert lines(card, "late") == (0, 1) and lines(card, "duplicate") == (0, 39)
    assert status(card) == [s for s in range(1, 41) if s != 6]


def test_a_dead_line_is_not_waited_for():
    feed = [(B, STREAM[0])] + [(A, p) for i, p in enumerate(STREAM) if i not in (10, 30)]
    one = ReferenceCard(CardConfig(line_window=4))
    for line, p in feed:
        one.feed(p, 0, line)
    ev = one.take_events()
    gaps = ev[ev["kind"] == EventKind.GAP]
    assert gaps["seq"].tolist() == [12, 32]  # declared without end of input: B went quiet long before
    assert len(ev[ev["kind"] == EventKind.STATUS]) == 38


@pytest.mark.parametrize("window", [0, 4, 255])
def test_one_line_alone_is_taken_as_without_arbitration(window: int):
    feed = [(A, p) for i, p in enumerate(STREAM) if i not in (4, 5, 17)]
    single, ab = ReferenceCard(), ReferenceCard(CardConfig(line_window=window))
    for n, (_line, p) in enumerate(feed):
        single.feed(p, n)
        ab.feed(p, n, A)
    assert (comparable(ab.take_events()) == comparable(single.take_events())).all()  # no end of input needed
    assert {k: v for k, v in ab.counters.items() if not k.startswith("line_")} == {
        k: v for k, v in single.counters.items() if not k.startswith("line_")}


def test_end_of_input_releases_what_is_held():
    feed = [(A, p) for p in STREAM[:10]] + [(B, p) for p in STREAM[:5]] + [(A, STREAM[12])]
    card = ReferenceCard(CardConfig(line_window=8))
    for line, p in feed:
        card.feed(p, 0, line)
    assert status(card) == list(range(1, 11))  # packet 13 held: B may still bring 11 and 12
    card.end_of_input()
    assert card.counters["seq_gaps"] == 1 and status(card) == [13]


def test_end_of_session_waits_for_the_other_line_and_a_new_session_is_adopted():
    eos = mold.end_of_session("SESS", 41)
    feed = [*interleave({39}, {39}), (A, eos), (A, pkt(1, 1, "NEXT")),  # A lost the last packet
            (B, STREAM[39]), (B, eos), (B, pkt(1, 1, "NEXT"))]
    card = run(feed, window=8)
    ev = card.take_events()
    assert card.counters["seq_gaps"] == 0 and card.counters["session_changes"] == 1
    kinds = [(int(k), int(s)) for k, s in zip(ev["kind"], ev["seq"], strict=True) if k != EventKind.STATUS]
    assert kinds == [(EventKind.SESSION, 41), (EventKind.SESSION, 1)]  # END, then CHANGED
    assert len(ev[ev["kind"] == EventKind.STATUS]) == 41
    assert lines(card, "used") == (40, 1) and lines(card, "duplicate") == (0, 40)  # B: 39 copies, NEXT
    assert card.counters["packets_wrong_session"] == 1  # B's end of session, after the new session began


def test_the_window_is_validated():
    with pytest.raises(ValueError, match=r"line_window must be an integer from 0 to 255 packets, or None \(one line\), "
                                         r"not 256"):
        CardConfig(line_window=256)
    with pytest.raises(ValueError, match="not True"):
        CardConfig(line_window=True)
