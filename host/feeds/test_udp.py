"""The live MoldUDP64 feed: packets dropped on the way are re-requested and arrive in order."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from tickgate.host.backend import open_backend
from tickgate.host.feeds.udp import MoldUdpFeed, parse_udp_source
from tickgate.host.feeds.udp_loopback import RerequestServer, reference, same_events, test_stream
from tickgate.protocol import moldudp64
from tickgate.protocol.config import LINE_WINDOW, CardConfig


@pytest.fixture(scope="module")
def stream():
    return test_stream()


def publish(feed: MoldUdpFeed, packets: list[bytes], drop: set[int], target=None) -> threading.Thread:
    def send():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i, p in enumerate(packets):
            if i not in drop:
                s.sendto(p, target or feed.address)
            if i % 16 == 0:
                time.sleep(0.001)
        s.close()

    t = threading.Thread(target=send)
    t.start()
    return t


def collect(feed: MoldUdpFeed, packets, drop, target=None) -> np.ndarray:
    be = open_backend("software")
    t = publish(feed, packets, drop, target)
    for payload, rx in feed:
        assert rx > 0
        be.feed(payload, rx)
    t.join()
    feed.close()
    return be.take_events(), be.counters()


def test_gaps_are_re_requested_and_filled(stream):
    msgs, packets = stream
    server = RerequestServer(msgs)
    feed = MoldUdpFeed("127.0.0.1", 0, rerequest=server.address, idle_timeout_s=2.0)
    drop = {3, 4, 17, len(packets) - 3}
    try:
        events, counters = collect(feed, packets, drop)
    finally:
        server.close()
    assert same_events(events, reference(packets))  # as if nothing was lost
    assert counters["seq_gaps"] == 0 and counters["messages_missed"] == 0
    st = feed.stats()
    assert st["udp_gaps"] == 3 and st["udp_gaps_given_up"] == 0
    assert st["udp_rerequests"] == len(server.requests) >= 3
    wanted = [moldudp64.parse_header(packets[i]) for i in (3, 17, len(packets) - 3)]
    assert [r.sequence_number for r in server.requests[:3]] == [h.sequence_number for h in wanted]
    assert st["udp_packets"] == len(packets) - len(drop) and st["udp_retransmitted"] > 0


def test_without_a_rerequest_server_the_card_sees_and_counts_the_gap(stream):
    _msgs, packets = stream
    feed = MoldUdpFeed("127.0.0.1", 0, idle_timeout_s=1.0)
    drop = {5}
    _events, counters = collect(feed, packets, drop)
    lost = moldudp64.parse_header(packets[5]).message_count
    assert counters["seq_gaps"] == 1 and counters["messages_missed"] == lost
    assert feed.stats()["udp_gaps"] == 1 and feed.stats()["udp_gaps_given_up"] == 1
    assert feed.stats()["udp_messages_given_up"] == lost


def test_unanswered_re_requests_are_retried_then_given_up(stream):
    _msgs, packets = stream
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    feed = MoldUdpFeed("127.0.0.1", 0, rerequest=silent.getsockname(), gap_timeout_s=0.02, retries=2,
                       idle_timeout_s=1.0)
    try:
        _events, counters = collect(feed, packets, {8})
    finally:
        silent.close()
    st = feed.stats()
    assert st["udp_rerequests"] == 3 and st["udp_rerequest_retries"] == 2 and st["udp_gaps_given_up"] == 1
    assert counters["messages_missed"] == moldudp64.parse_header(packets[8]).message_count


def test_multicast_join(stream):
    _, packets = stream
    group = "239.255.42.99"
    try:
        feed = MoldUdpFeed(group, 0, iface="127.0.0.1", idle_timeout_s=1.0)
    except OSError as e:
        pytest.skip(f"no multicast on this host: {e}")
    port = feed.address[1]
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    out.sendto(packets[0], (group, port))
    out.close()
    got = next(iter(feed), None)
    feed.close()
    if got is None:
        pytest.skip("multicast loopback is not delivered on this host")
    assert got.payload == packets[0]
    assert parse_udp_source("udp://239.1.2.3:5000@10.0.0.1") == ("239.1.2.3", 5000, "10.0.0.1")


@pytest.mark.parametrize("impl", ["python", "native"])
def test_two_lines_re_request_only_what_both_lost(stream, impl):
    """udp://A,B: each line loses packets of its own (filled from the other line) and one both lose (re-requested,
    once); the software card, arbitrating, sees no gap and emits the lossless events. Both receivers."""
    from tickgate.host.feeds.udp_native import NativeUdpFeed

    msgs, packets = stream
    server = RerequestServer(msgs)
    feed = (MoldUdpFeed if impl == "python" else NativeUdpFeed)(
        "127.0.0.1", 0, rerequest=server.address, idle_timeout_s=2.0, line_b=("127.0.0.1", 0), gap_timeout_s=0.5)
    drop_a, drop_b = {3, 4, 20, 40}, {9, 20, 41}
    be = open_backend("software", CardConfig(line_window=LINE_WINDOW))

    def send():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i, p in enumerate(packets):
            for address, drop in ((feed.address, drop_a), (feed.address_b, drop_b)):
                if i not in drop:
                    s.sendto(p, address)
            if i % 16 == 0:
                time.sleep(0.001)
        s.close()

    t = threading.Thread(target=send)
    t.start()
    try:
        lines = set()
        for payload, rx, line in feed:
            lines.add(line)
            be.feed(payload, rx, line)
        be.end_of_input()
    finally:
        t.join()
        feed.close()
        server.close()
    counters, st = be.counters(), feed.stats()
    assert same_events(be.take_events(), reference(packets))
    assert counters["seq_gaps"] == 0 and lines == {0, 1} and counters["line_b_used"] >= 3
    assert [r.sequence_number for r in server.requests] == [moldudp64.parse_header(packets[20]).sequence_number]
    assert st["udp_gaps"] == 1 and st["udp_line_holes_filled"] == st["udp_line_holes"] - 1  # but the both-lost one
    assert 0 < st["udp_line_b_packets"] <= len(packets) - len(drop_b)  # the stream ends at A's end of session


def test_two_lines_parse():
    from tickgate.host.feeds.udp import parse_udp_lines

    assert parse_udp_lines("udp://233.1.1.1:100,233.1.1.2:200@10.0.0.1") == (
        ("233.1.1.1", 100), ("233.1.1.2", 200), "10.0.0.1")
    assert parse_udp_lines("udp://233.1.1.1:100") == (("233.1.1.1", 100), None, "0.0.0.0")
    with pytest.raises(ValueError, match="at most two lines"):
        parse_udp_lines("udp://a:1,b:2,c:3")
