"""MoldUDP64 session rules through the whole decoder, each scenario checked against `ReferenceDecoder`."""

import random

from tickgate.protocol.decoded import Notice
from tickgate.protocol.moldudp64 import end_of_session, heartbeat
from tickgate.sim.simulate import SESSION, check_against_reference, packet, random_message

OTHER = b"OTHERSESS1"


def _adds(rng: random.Random, n: int) -> list[bytes]:
    return [random_message(rng, rng.choice("AFEXDU")) for _ in range(n)]


def _notices(run) -> list[tuple[int, int, int]]:
    return [(r["notice"], r["seq"], r["ref"]) for r in run.records if r["notice"]]


def test_gap_duplicate_partial_duplicate():
    rng = random.Random(1)
    m = _adds(rng, 12)
    pkts = [
        packet(1, m[0:3]),  # 1-3
        packet(6, m[5:8]),  # gap: 4, 5 missed
        packet(6, m[5:8]),  # whole duplicate
        packet(7, m[6:10]),  # 7, 8 seen: the head skipped, 9 and 10 new
        packet(2, m[1:2]),  # old duplicate
    ]
    run = check_against_reference(pkts)
    c = run.counters
    assert (c["seq_gaps"], c["messages_missed"], c["packets_duplicate"], c["messages_duplicate"]) == (1, 2, 2, 2)
    assert _notices(run) == [(Notice.GAP, 6, 4)]
    assert [r["seq"] for r in run.records if not r["notice"]] == [1, 2, 3, 6, 7, 8, 9, 10]


def test_heartbeat_and_end_of_session_reveal_gaps():
    rng = random.Random(2)
    pkts = [
        packet(1, _adds(rng, 2)),
        heartbeat(SESSION, 3),  # nothing missed
        heartbeat(SESSION, 5),  # 3 and 4 missed
        heartbeat(SESSION, 2),  # behind: nothing
        heartbeat(SESSION, 5) + b"xx",  # bytes after a heartbeat: malformed
        end_of_session(SESSION, 8),  # gap, then end of session
        end_of_session(SESSION, 8),  # a second end: counted, no notice
        packet(8, _adds(rng, 2)),  # the same session goes on after its end
    ]
    run = check_against_reference(pkts)
    c = run.counters
    assert (c["packets_heartbeat"], c["packets_end_of_session"], c["packets_malformed"]) == (4, 2, 1)
    assert _notices(run) == [(Notice.GAP, 5, 3), (Notice.GAP, 8, 5), (Notice.END_OF_SESSION, 8, 0)]
    end = next(r for r in run.records if r["notice"] == Notice.END_OF_SESSION)
    assert end["session"] == int.from_bytes(SESSION, "little")


def test_wrong_session_then_change_after_end():
    rng = random.Random(3)
    pkts = [
        packet(1, _adds(rng, 3)),
        packet(4, _adds(rng, 3), session=OTHER),  # wrong session: dropped
        end_of_session(SESSION, 4),
        packet(1000, _adds(rng, 2), session=OTHER),  # adopted: sequencing starts over
        packet(1005, _adds(rng, 1), session=OTHER),  # gap in the new session
        packet(4, _adds(rng, 2)),  # the old session is now the wrong one
        end_of_session(SESSION, 6),  # ... even its end of session
        end_of_session(OTHER, 1006),
        end_of_session(SESSION, 50),  # a change that is itself an end of session
    ]
    run = check_against_reference(pkts)
    c = run.counters
    assert (c["packets_wrong_session"], c["session_changes"], c["seq_gaps"]) == (3, 2, 1)
    assert [n for n, _, _ in _notices(run)] == [
        Notice.END_OF_SESSION, Notice.SESSION_CHANGED, Notice.GAP, Notice.END_OF_SESSION,
        Notice.SESSION_CHANGED, Notice.END_OF_SESSION]
    assert run.records[-1]["session"] == int.from_bytes(SESSION, "little")


def test_configured_session_and_first_sequence():
    rng = random.Random(4)
    pkts = [
        packet(10, _adds(rng, 2), session=OTHER),  # not the configured session: dropped, not adopted
        packet(12, _adds(rng, 3)),  # expected 5: gap of 7
        packet(15, _adds(rng, 1)),
    ]
    run = check_against_reference(pkts, session=SESSION, first_sequence=5)
    assert run.counters["packets_wrong_session"] == 1
    assert _notices(run) == [(Notice.GAP, 12, 5)]


def test_first_sequence_ahead_makes_duplicates():
    rng = random.Random(5)
    pkts = [packet(1, _adds(rng, 4)), packet(5, _adds(rng, 4))]  # 1-4 already seen, 5-7 too
    run = check_against_reference(pkts, first_sequence=8)
    c = run.counters
    assert (c["packets_duplicate"], c["messages_duplicate"], c["messages"]) == (1, 3, 1)


def test_random_session_traffic():
    """Seeded mix of sessions, jumps back and forth, heartbeats and ends, with flow control."""
    rng = random.Random(6)
    sessions = [SESSION, OTHER]
    pkts, seq = [], 1
    for _ in range(120):
        sess = rng.choice(sessions) if rng.random() < 0.2 else sessions[0]
        r = rng.random()
        jump = rng.choice([0, 0, 0, -3, -1, 1, 4])
        if r < 0.08:
            pkts.append(heartbeat(sess, max(seq + jump, 0)))
        elif r < 0.12:
            pkts.append(end_of_session(sess, max(seq + jump, 0)))
            sessions.reverse()
        else:
            k = rng.randrange(1, 6)
            start = max(seq + jump, 0)
            pkts.append(packet(start, _adds(rng, k), session=sess))
            seq = start + k
    run = check_against_reference(pkts, seed=6, valid_rate=0.7, ready_rate=0.6)
    c = run.counters
    assert c["seq_gaps"] and c["packets_duplicate"] and c["messages_duplicate"] and c["session_changes"]
