"""Framing through the whole decoder: every malformed case of `model.session`, at every byte alignment."""

import random

from tickgate.protocol.itch_spec import MESSAGES
from tickgate.sim.simulate import check_against_reference, packet, random_message

TYPES = [m.type for m in MESSAGES]


def _msgs(rng: random.Random, n: int) -> list[bytes]:
    return [random_message(rng, rng.choice(TYPES)) for _ in range(n)]


def test_short_packets():
    """Packets of 1 to 19 bytes are malformed and touch no session state; a good packet follows each."""
    rng = random.Random(1)
    pkts = []
    for n in range(1, 20):
        good = packet(n, _msgs(rng, 1))
        pkts += [good[:n], good]
    run = check_against_reference(pkts)
    assert run.counters["packets_malformed"] == 19
    assert run.counters["packets"] == 38


def test_truncated_at_every_byte():
    """A packet cut at every byte after its header: a block truncated, a prefix cut, or a clean end."""
    rng = random.Random(2)
    msgs = [random_message(rng, t) for t in "ADEFXU"]
    size = len(packet(0, msgs))
    pkts = [packet(100 + 6 * cut, msgs)[:cut] for cut in range(20, size + 1)]  # a new sequence each
    run = check_against_reference(pkts, session=b"TICKGATE01")
    assert run.counters["msg_truncated"] > 0
    assert run.counters["packets_malformed"] == len(pkts) - 1  # all but the whole one


def test_fewer_blocks_and_extra_bytes():
    """Counts that lie in both directions, and trailing bytes of every length after the last block."""
    rng = random.Random(3)
    pkts, seq = [], 1
    for k in range(1, 5):
        msgs = _msgs(rng, 3)
        pkts.append(packet(seq, msgs, count=3 + k))  # fewer blocks than the count
        seq += 3 + k
        pkts.append(packet(seq, msgs, count=1 + k % 2))  # bytes after the counted blocks
        seq += 1 + k % 2
    for extra in range(1, 17):
        pkts.append(packet(seq, _msgs(rng, 2), tail=rng.randbytes(extra)))
        seq += 2
    run = check_against_reference(pkts)
    assert run.counters["packets_malformed"] == len(pkts)


def test_tiny_and_bad_messages():
    """Zero-length, tiny (several ending in one beat), wrong-length, unknown-type and over-long messages."""
    rng = random.Random(4)
    pkts, seq = [], 1
    for _ in range(40):
        msgs = []
        for _ in range(rng.randrange(1, 12)):
            kind = rng.randrange(6)
            if kind == 0:
                msgs.append(rng.randbytes(rng.randrange(0, 6)))  # tiny, often several per beat
            elif kind == 1:
                t = rng.choice(TYPES)
                msgs.append(random_message(rng, t)[:rng.randrange(1, 50)])  # a known type, likely a wrong length
            elif kind == 2:
                msgs.append(bytes([rng.choice(b"!Z0az")]) + rng.randbytes(rng.randrange(0, 60)))  # unknown types
            elif kind == 3:
                msgs.append(random_message(rng, rng.choice(TYPES)) + rng.randbytes(rng.randrange(1, 300)))
            else:
                msgs.append(random_message(rng, rng.choice(TYPES)))
        pkts.append(packet(seq, msgs))
        seq += len(msgs)
    run = check_against_reference(pkts, seed=4, valid_rate=0.8, ready_rate=0.7)
    c = run.counters
    assert c["msg_bad_length"] > 0 and c["msg_unknown_type"] > 0 and c["messages"] > 100


def test_all_zero_length():
    """Blocks of length zero back to back: four end in a beat; every one counted as a bad length."""
    pkts = [packet(1 + 50 * k, [b""] * 50) for k in range(4)]
    run = check_against_reference(pkts)
    assert run.counters["msg_bad_length"] == 200
    assert run.stalls > 0  # several messages ending in one beat hold the input back


def test_fuzz():
    """Seeded mutations of good packets: lying counts and lengths, cuts, flipped bytes, random garbage."""
    rng = random.Random(5)
    pkts, seq = [], 1
    for _ in range(150):
        msgs = _msgs(rng, rng.randrange(0, 6))
        p = bytearray(packet(seq, msgs))
        seq += len(msgs)
        for _ in range(rng.randrange(0, 3)):
            what = rng.randrange(4)
            if what == 0 and len(p) > 1:
                del p[rng.randrange(1, len(p)):]
            elif what == 1 and len(p) > 20:
                p[rng.randrange(20, len(p))] = rng.randrange(256)
            elif what == 2:
                p[18:20] = rng.randrange(0, 12).to_bytes(2, "big")
            else:
                p += rng.randbytes(rng.randrange(1, 12))
        pkts.append(bytes(p))
    check_against_reference(pkts, seed=5, valid_rate=0.7, ready_rate=0.6)
