"""MoldUDP64 session rules of the reference model."""

from __future__ import annotations

import numpy as np

from tickgate.model.card import ReferenceCard
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import CardConfig
from tickgate.protocol.events import KIND_DTYPES, EventKind, SessionCode


def sysev(code: str, ts: int = 1) -> bytes:
    return itch.encode(itch.make("S", timestamp=ts, event_code=code))


def status_seqs(events: np.ndarray) -> list[int]:
    return events["seq"][events["kind"] == EventKind.STATUS].tolist()


def test_in_order_packets_deliver_every_message():
    card = ReferenceCard()
    card.feed(mold.build("SESS", 1, [sysev("O"), sysev("S")]))
    card.feed(mold.build("SESS", 3, [sysev("Q")]))
    ev = card.take_events()
    assert status_seqs(ev) == [1, 2, 3]
    assert card.counters["messages"] == 3 and card.counters["type_S"] == 3
    assert card.counters["seq_gaps"] == 0


def test_gap_gives_event_and_counters_and_messages_still_used():
    card = ReferenceCard()
    card.feed(mold.build("SESS", 1, [sysev("O")]))
    card.feed(mold.build("SESS", 5, [sysev("S")]))
    ev = card.take_events()
    gaps = ev[ev["kind"] == EventKind.GAP].view(KIND_DTYPES[EventKind.GAP])
    assert len(gaps) == 1
    assert (gaps[0]["gap_expected"], gaps[0]["gap_received"], gaps[0]["gap_missed"]) == (2, 5, 3)
    assert card.counters["seq_gaps"] == 1 and card.counters["messages_missed"] == 3
    assert status_seqs(ev) == [1, 5]


def test_duplicate_and_partly_repeated_packets():
    card = ReferenceCard()
    card.feed(mold.build("SESS", 1, [sysev("O"), sysev("S")]))
    card.feed(mold.build("SESS", 1, [sysev("O"), sysev("S")]))  # whole duplicate
    card.feed(mold.build("SESS", 2, [sysev("S"), sysev("Q")]))  # head already seen
    ev = card.take_events()
    assert status_seqs(ev) == [1, 2, 3]
    assert card.counters["packets_duplicate"] == 1
    assert card.counters["messages_duplicate"] == 1


def test_heartbeat_reveals_a_gap():
    card = ReferenceCard()
    card.feed(mold.build("SESS", 1, [sysev("O")]))
    card.feed(mold.heartbeat("SESS", 2))
    card.feed(mold.heartbeat("SESS", 4))
    assert card.counters["packets_heartbeat"] == 2
    assert card.counters["seq_gaps"] == 1 and card.counters["messages_missed"] == 2


def test_end_of_session_once_then_a_new_session_is_adopted():
    card = ReferenceCard()
    card.feed(mold.build("DAY1", 1, [sysev("O")]))
    card.feed(mold.build("DAY2", 1, [sysev("X")]))  # wrong session while DAY1 is live
    card.feed(mold.end_of_session("DAY1", 2))
    card.feed(mold.end_of_session("DAY1", 2))
    card.feed(mold.build("DAY2", 1, [sysev("O")]))
    ev = card.take_events()
    sess = ev[ev["kind"] == EventKind.SESSION].view(KIND_DTYPES[EventKind.SESSION])
    assert [c for c in sess["session_code"]] == [SessionCode.END, SessionCode.CHANGED]
    assert [s.rstrip() for s in sess["session"].tolist()] == [b"DAY1", b"DAY2"]
    assert card.counters["packets_wrong_session"] == 1
    assert card.counters["packets_end_of_session"] == 2
    assert card.counters["session_changes"] == 1
    assert status_seqs(ev) == [1, 1]


def test_configured_session_drops_others():
    card = ReferenceCard(CardConfig(session=b"MINE      "))
    card.feed(mold.build("OTHER", 1, [sysev("O")]))
    assert card.counters["packets_wrong_session"] == 1
    assert card.counters["messages"] == 0


def test_malformed_packets_are_counted_and_decoding_resumes():
    card = ReferenceCard()
    good = mold.build("SESS", 1, [sysev("O")])
    card.feed(good[:10])  # shorter than the header
    truncated = mold.build("SESS", 1, [sysev("O"), sysev("S")])[:-3]  # second block cut
    card.feed(truncated)
    card.feed(mold.build("SESS", 3, [sysev("Q")]) + b"junk")  # bytes after the counted blocks
    card.feed(mold.build("SESS", 4, [sysev("M")]))
    c = card.counters
    assert c["packets_malformed"] == 3
    assert c["msg_truncated"] == 1
    assert status_seqs(card.take_events()) == [1, 3, 4]


def test_bad_messages_are_counted_by_reason():
    card = ReferenceCard()
    card.feed(mold.build("SESS", 1, [b"", b"\x00" * 12, sysev("O")[:-1], sysev("O"), b"Z" * 30]))
    c = card.counters
    assert c["msg_bad_length"] == 2  # zero length, S one byte short
    assert c["msg_unknown_type"] == 2  # type 0x00 and 'Z'
    assert c["type_S"] == 1
    typed = sum(v for k, v in c.items() if k.startswith("type_"))
    assert c["messages"] == typed + c["msg_bad_length"] + c["msg_unknown_type"] + c["msg_truncated"] == 5
