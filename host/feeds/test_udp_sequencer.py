"""The C++ sequencer (driver/mold_sequencer.cpp) against MoldUdpFeed's, decision for decision, without sockets."""

from __future__ import annotations

import random

import pytest

from tickgate._driver import MoldSequencer
from tickgate.host.feeds import pack_messages
from tickgate.host.feeds import udp as udp_module
from tickgate.host.feeds.generator import Generator
from tickgate.host.feeds.udp import MoldUdpFeed
from tickgate.protocol import moldudp64

SESSION = b"TICKGATE01"


class _CapturedSocket:
    """Stands in for MoldUdpFeed's re-request socket: keeps what is sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, _address) -> None:
        self.sent.append(bytes(data))

    def close(self) -> None:
        pass


def _line(rnd: random.Random, packets: list[bytes], line: int) -> list[tuple[int, bytes]]:
    arrivals: list[tuple[int, bytes]] = []
    for p in packets:
        r = rnd.random()
        if r < 0.1:
            continue  # lost
        arrivals.append((line, p))
        if r > 0.95:
            arrivals.append((line, p))  # duplicated
        elif r > 0.93:
            arrivals.append((line, rnd.choice([b"tiny", moldudp64.build(b"STRANGER01", 1, [])])))
    return arrivals


@pytest.mark.parametrize("two_lines", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_the_sequencer_decides_as_moldudpfeed_on_random_arrivals(seed, two_lines, monkeypatch):
    """Differential: drops, duplicates, reorders, stray sessions and short packets, answered and unanswered
    requests, timeouts, and with two lines (A/B) each line's own losses and the lines out of step; the C++
    sequencer and MoldUdpFeed's hand on the same packets (with their receive times and lines), send the same
    requests, end at the same packet and count the same."""
    rnd = random.Random(seed)
    msgs = list(Generator(400, 10, seed + 1))
    packets = list(pack_messages(iter(msgs), session=SESSION, max_payload=rnd.choice([72, 200, 400]),
                                 end_of_session=True))
    arrivals = _line(rnd, packets, 0)
    if two_lines:  # line B's arrivals among A's, a few packets behind or ahead
        for item in _line(rnd, packets, 1):
            arrivals.insert(min(len(arrivals), max(0, packets.index(item[1]) + rnd.randrange(-3, 6))
                                if item[1] in packets else rnd.randrange(len(arrivals) + 1)), item)
    for _ in range(len(arrivals) // 8):
        i = rnd.randrange(len(arrivals) - 1)
        arrivals[i], arrivals[i + 1] = arrivals[i + 1], arrivals[i]
    can_request = rnd.random() < 0.8
    kw = dict(gap_timeout_s=0.02, retries=rnd.randrange(4), max_request=rnd.choice([3, 50, 1000]),
              max_held=rnd.choice([2, 5, 10_000]))
    clock = [1_000_000_000]
    monkeypatch.setattr(udp_module, "_now", lambda: clock[0])
    py = MoldUdpFeed("127.0.0.1", 0, rerequest=("127.0.0.1", 9) if can_request else None,
                     line_b=("127.0.0.1", 0) if two_lines else None, **kw)
    if py.rr_sock is not None:
        py.rr_sock.close()
        py.rr_sock = _CapturedSocket()
    nat = MoldSequencer(can_request=can_request, gap_timeout_ns=20_000_000, retries=kw["retries"],
                        max_request=kw["max_request"], max_held=kw["max_held"], two_lines=two_lines)
    queue = [(line, p, False) for line, p in arrivals]
    steps = 0
    try:
        while queue or steps < len(arrivals) + 20:
            steps += 1
            clock[0] += rnd.randrange(15_000_000)
            out: list = []
            if queue:
                line, p, again = queue.pop(0)
                assert py._accept(p, clock[0], out, line, again) == nat.accept(p, clock[0], clock[0], line, again)
            assert py._check_timeout(out) == nat.check_timeout(clock[0])
            handed, requests = nat.take()
            assert [(bytes(q[0]), q[1], q[2] if two_lines else 0) for q in out] == handed
            sent = py.rr_sock.sent if py.rr_sock is not None else []
            assert sent == requests
            for raw in requests:  # the server answers most requests, a few arrivals later
                sent.clear()
                req = moldudp64.RequestPacket.decode(raw)
                if rnd.random() < 0.7:
                    first, count = req.sequence_number, req.requested_count
                    answer = moldudp64.build(SESSION, first, msgs[first - 1:first - 1 + count])
                    queue.insert(min(len(queue), rnd.randrange(4)), (0, answer, True))
            if not queue and steps >= len(arrivals) + 20:
                break
    finally:
        py.close()
    assert {k: py.c[k] for k in nat.counters()} == nat.counters()
