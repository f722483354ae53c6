"""The native live feed (driver/udp_receiver.cpp) against the Python one (MoldUdpFeed), over loopback.

Each scenario runs through both: the Python feed packet by packet into the software backend, the native
receiver into a SoftwareDevice with no Python per packet. Both must give the reference's events (as if
nothing had been lost) and make the same decisions (the sequencer's counters).
"""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from tickgate._driver import SoftwareDevice, UdpReceiver
from tickgate.host.backend import open_backend
from tickgate.host.feeds.udp import MoldUdpFeed
from tickgate.host.feeds.udp_loopback import RerequestServer, reference, same_events, test_stream
from tickgate.host.feeds.udp_native import NativeUdpFeed
from tickgate.protocol import moldudp64
from tickgate.protocol.events import EVENT_DTYPE

IMPLS = ("python", "native")
# MoldUdpFeed.stats(): the decisions both implementations count alike
SHARED = ("udp_packets", "udp_gaps", "udp_gaps_given_up", "udp_messages_given_up", "udp_duplicates_dropped",
          "udp_wrong_session_passed", "udp_held_overflow", "udp_idle_end")


@pytest.fixture(scope="module")
def stream():
    return test_stream()


def publish(address, datagrams: list[bytes]) -> threading.Thread:
    def send():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i, p in enumerate(datagrams):
            s.sendto(p, address)
            if i % 4 == 0:
                time.sleep(0.001)  # a gap is answered before the next one opens
        s.close()

    t = threading.Thread(target=send)
    t.start()
    return t


def receive(impl: str, datagrams: list[bytes], **kw) -> tuple[np.ndarray, dict, dict, float]:
    """(events, card counters, feed counters, seconds) of `datagrams` sent to a fresh feed of `impl`."""
    feed = (MoldUdpFeed if impl == "python" else NativeUdpFeed)("127.0.0.1", 0, **kw)
    t0 = time.monotonic()
    try:
        if impl == "python":
            be = open_backend("software")
            t = publish(feed.address, datagrams)
            for payload, rx in feed:
                assert rx > 0
                be.feed(payload, rx)
            events, counters = be.take_events(), be.counters()
        else:
            dev = SoftwareDevice()
            feed.attach(dev)
            out = np.zeros(1 << 16, dtype=EVENT_DTYPE)
            n = 0
            t = publish(feed.address, datagrams)
            while not feed.ended:
                n += feed.receive_into(out[n:], 0.05)
            events, counters = out[:n], dev.counters()
        t.join()
        return events, counters, feed.stats(), time.monotonic() - t0
    finally:
        feed.close()


def shared(stats: dict) -> dict:
    return {k: stats[k] for k in SHARED}


@pytest.mark.parametrize("impl", IMPLS)
def test_gaps_are_re_requested_and_filled(stream, impl):
    msgs, packets = stream
    server = RerequestServer(msgs)
    drop = {3, 4, 40, len(packets) - 3}
    try:
        events, counters, st, _ = receive(impl, [p for i, p in enumerate(packets) if i not in drop],
                                          rerequest=server.address, idle_timeout_s=2.0)
    finally:
        server.close()
    assert same_events(events, reference(packets))  # as if nothing was lost
    assert counters["seq_gaps"] == 0 and counters["messages_missed"] == 0
    assert st["udp_gaps"] == 3 and st["udp_gaps_given_up"] == 0 and st["udp_idle_end"] == 0
    assert st["udp_rerequests"] == len(server.requests) >= 3
    wanted = [moldudp64.parse_header(packets[i]) for i in (3, 40, len(packets) - 3)]
    assert [r.sequence_number for r in server.requests[:3]] == [h.sequence_number for h in wanted]
    assert st["udp_packets"] == len(packets) - len(drop) and st["udp_retransmitted"] > 0


def test_both_make_the_same_decisions_on_a_gap_without_a_server(stream):
    _msgs, packets = stream
    datagrams = [p for i, p in enumerate(packets) if i != 5]
    runs = {impl: receive(impl, datagrams, idle_timeout_s=1.0) for impl in IMPLS}
    (ev_py, c_py, st_py, _), (ev_nat, c_nat, st_nat, _) = runs["python"], runs["native"]
    lost = moldudp64.parse_header(packets[5]).message_count
    assert same_events(ev_py, ev_nat) and c_py == c_nat
    assert c_nat["seq_gaps"] == 1 and c_nat["messages_missed"] == lost
    assert shared(st_py) == shared(st_nat)
    assert st_nat["udp_gaps"] == 1 and st_nat["udp_gaps_given_up"] == 1 and st_nat["udp_messages_given_up"] == lost


@pytest.mark.parametrize("impl", IMPLS)
def test_unanswered_re_requests_are_retried_then_given_up(stream, impl):
    msgs, packets = stream
    silent = RerequestServer(msgs, silent=True)
    try:
        _events, counters, st, _ = receive(impl, [p for i, p in enumerate(packets) if i != 8],
                                           rerequest=silent.address, gap_timeout_s=0.02, retries=2,
                                           idle_timeout_s=1.0)
    finally:
        silent.close()
    assert st["udp_rerequests"] == 3 and st["udp_rerequest_retries"] == 2 and st["udp_gaps_given_up"] == 1
    assert len(silent.requests) == 3 and {r.sequence_number for r in silent.requests} == {
        moldudp64.parse_header(packets[8]).sequence_number}
    assert counters["messages_missed"] == moldudp64.parse_header(packets[8]).message_count


@pytest.mark.parametrize("impl", IMPLS)
def test_duplicates_are_dropped_and_reordered_packets_held_back(stream, impl):
    msgs, packets = stream
    datagrams = list(packets[:-1])
    datagrams[10], datagrams[11] = datagrams[11], datagrams[10]  # 11 arrives first: held until 10 fills the gap
    datagrams[40:40] = packets[30:33]  # three late duplicates
    server = RerequestServer(msgs, silent=True)  # any request is answered by the reordered packet itself
    try:
        events, counters, st, _ = receive(impl, [*datagrams, packets[-1]], rerequest=server.address,
                                          gap_timeout_s=1.0, idle_timeout_s=2.0)
    finally:
        server.close()
    assert same_events(events, reference(packets))
    assert counters["seq_gaps"] == 0 and counters["messages_missed"] == 0
    assert st["udp_duplicates_dropped"] == 3 and st["udp_gaps"] == 1 and st["udp_gaps_given_up"] == 0
    assert st["udp_rerequests"] == 1 and st["udp_idle_end"] == 0


@pytest.mark.parametrize("impl", IMPLS)
def test_an_end_of_session_behind_a_gap_ends_the_feed(stream, impl):
    _msgs, packets = stream
    _events, counters, st, seconds = receive(impl, packets[:-2] + packets[-1:], idle_timeout_s=3.0)
    assert st["udp_gaps_given_up"] == 1 and st["udp_idle_end"] == 0 and seconds < 2.5  # ended by the end of session
    assert counters["seq_gaps"] == 1


@pytest.mark.parametrize("impl", IMPLS)
def test_held_packets_past_max_held_give_the_gap_up(stream, impl):
    msgs, packets = stream
    silent = RerequestServer(msgs, silent=True)
    try:
        _events, counters, st, _ = receive(impl, [p for i, p in enumerate(packets) if i != 2],
                                           rerequest=silent.address, gap_timeout_s=5.0, max_held=4,
                                           idle_timeout_s=1.0)
    finally:
        silent.close()
    assert st["udp_held_overflow"] == 1 and st["udp_gaps_given_up"] == 1
    assert counters["messages_missed"] == moldudp64.parse_header(packets[2]).message_count


def test_wrong_session_and_short_packets_pass_on_to_the_card_and_are_counted(stream):
    _msgs, packets = stream
    other = moldudp64.build(b"OTHERSESS1", 1, [])
    datagrams = [*packets[:5], other, b"short", *packets[5:]]
    runs = {impl: receive(impl, datagrams, idle_timeout_s=1.0) for impl in IMPLS}
    (ev_py, c_py, st_py, _), (ev_nat, c_nat, st_nat, _) = runs["python"], runs["native"]
    assert same_events(ev_py, ev_nat) and c_py == c_nat and shared(st_py) == shared(st_nat)
    assert st_nat["udp_wrong_session_passed"] == 1 and st_nat["udp_short_passed"] == 1


def test_truncated_datagrams_are_dropped_counted_and_re_requested(stream):
    msgs, packets = stream
    sizes = sorted(len(p) for p in packets)
    limit = max(sizes[len(sizes) // 2], len(packets[0]), 300)  # about half the packets are longer
    server = RerequestServer(msgs, per_packet=5)  # answers that fit
    rx = UdpReceiver("127.0.0.1", 0, rerequest=server.address, max_datagram=limit, idle_timeout_s=1.0)
    dev = SoftwareDevice()
    rx.attach(dev)
    out = np.zeros(1 << 16, dtype=EVENT_DTYPE)
    n = 0
    try:
        t = publish(rx.address, packets)
        while not rx.ended:
            n += rx.receive_into(out[n:], 0.05)
        t.join()
    finally:
        server.close()
        rx.close()
    st = rx.counters()
    big = sum(len(p) > limit for p in packets)
    assert big > 10 and st["udp_truncated"] == big and st["udp_gaps"] >= 1
    assert dev.counters()["messages_missed"] == 0 and same_events(out[:n], reference(packets))


def test_receive_times_are_kernel_stamps_on_the_monotonic_clock(stream):
    _msgs, packets = stream
    rx = UdpReceiver("127.0.0.1", 0, idle_timeout_s=1.0)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    before = time.perf_counter_ns()
    s.sendto(packets[0], rx.address)
    time.sleep(0.05)  # the stamp is taken on arrival, not when the packet is read
    batch = rx.receive(1.0)
    after = time.perf_counter_ns()
    s.close()
    rx.close()
    length, rx_ns, _flags = moldudp64.DmaHeader.decode(batch)
    assert length == len(packets[0]) and batch[16:16 + length] == packets[0]
    assert before <= rx_ns <= after - 40_000_000
    assert rx.counters()["udp_no_kernel_stamp"] == 0
    assert time.get_clock_info("perf_counter").implementation == "clock_gettime(CLOCK_MONOTONIC)"


def test_iterated_native_feed_yields_the_packets_in_order(stream):
    _msgs, packets = stream
    feed = NativeUdpFeed("127.0.0.1", 0, idle_timeout_s=1.0)
    t = publish(feed.address, packets)
    got = list(feed)
    t.join()
    feed.close()
    assert [p.payload for p in got] == packets and all(p.rx_ns > 0 for p in got)
    assert feed.stats()["udp_idle_end"] == 0


def test_multicast_join(stream):
    _, packets = stream
    group = "239.255.42.98"
    try:
        feed = NativeUdpFeed(group, 0, iface="127.0.0.1", idle_timeout_s=0.5)
    except OSError as e:
        pytest.skip(f"no multicast on this host: {e}")
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    out.sendto(packets[0], (group, feed.address[1]))
    out.close()
    got = next(iter(feed), None)
    feed.close()
    if got is None:
        pytest.skip("multicast loopback is not delivered on this host")
    assert got.payload == packets[0]


def test_bad_arguments_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="max_request"):
        UdpReceiver("127.0.0.1", 0, max_request=0)
    with pytest.raises(ValueError, match="port"):
        UdpReceiver("127.0.0.1", 70000)
    with pytest.raises(OSError):
        UdpReceiver("192.0.2.1", 0)  # not an address of this host
    rx = UdpReceiver("127.0.0.1", 0)
    with pytest.raises(ValueError, match="attach"):
        rx.receive_into(np.zeros(4, dtype=EVENT_DTYPE), 0.0)
    with pytest.raises(TypeError):
        rx.attach(object())
    rx.close()

