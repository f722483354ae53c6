"""SimExchange: matching against the replayed top of book, and the simulator as a SoupBinTCP server."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from tickgate.host.exchange.matching import Fill, Matcher
from tickgate.host.exchange.sim import SimExchange
from tickgate.host.orders.soupbin import SoupBinClient
from tickgate.protocol import ouch
from tickgate.protocol.events import EVENT_DTYPE, EventKind

SYMBOLS = {1: "AAPL", 2: "MSFT"}


def bbo(*rows: tuple[int, int, int, int, int, int]) -> np.ndarray:
    """BBO event records from (locate, ts_exch, bid_px, bid_sz, ask_px, ask_sz) rows; a trade event between."""
    ev = np.zeros(2 * len(rows), dtype=EVENT_DTYPE)
    ev["kind"] = EventKind.TRADE
    for i, (loc, ts, bp, bs, ap, asz) in enumerate(rows):
        e = ev[2 * i]
        e["kind"], e["locate"], e["ts_exch"] = EventKind.BBO, loc, ts
        e["bid_px"], e["bid_sz"], e["ask_px"], e["ask_sz"] = bp, bs, ap, asz
    return ev


def enter(token: int, side: str, qty: int, symbol: str, price: int, tif: str = "0") -> bytes:
    return ouch.encode("O", user_ref_num=token, side=side, quantity=qty, symbol=symbol, price=price,
                       time_in_force=tif, display="Y", capacity="A", intermarket_sweep="N", cross_type="N",
                       cl_ord_id=str(token))


class Tape:
    """A Matcher with its outbound messages decoded."""

    def __init__(self) -> None:
        self.out: list[tuple[str, str, dict]] = []
        self.m = Matcher(lambda user, payload: self.out.append((user, *ouch.decode(payload, "out"))))
        self.m.set_symbols(SYMBOLS)

    def take(self) -> list[tuple]:
        got = [(t, m["user_ref_num"], m.get("quantity"), m.get("price"), m.get("reason", m.get("liquidity_flag")))
               for _, t, m in self.out]
        self.out.clear()
        return got


def test_marketable_buy_fills_up_to_the_ask_size_at_the_ask_and_ioc_remainder_is_canceled():
    t = Tape()
    t.m.update_book(bbo((1, 1000, 1_000_000, 300, 1_000_500, 200)))
    t.m.on_message("u", enter(1, "B", 500, "AAPL", 1_001_000, "3"))
    assert t.take() == [("A", 1, 500, 1_001_000, None), ("E", 1, 200, 1_000_500, "R"), ("C", 1, 300, None, "I")]
    assert t.m.fills == [Fill("u", 1, "AAPL", "B", 200, 1_000_500, 1, "R", 1000)]
    assert t.m.book("AAPL") == (1_000_000, 300, 1_000_500, 0)  # the liquidity taken is gone until the next BBO


def test_marketable_sell_short_fills_at_the_bid():
    t = Tape()
    t.m.update_book(bbo((2, 5, 2_000_000, 100, 2_000_100, 100)))
    t.m.on_message("u", enter(3, "T", 60, "MSFT", 1_999_000, "3"))
    assert t.take() == [("A", 3, 60, 1_999_000, None), ("E", 3, 60, 2_000_000, "R")]
    assert t.m.fills[0].side == "S"


def test_day_remainder_rests_and_fills_when_the_book_later_crosses_it():
    t = Tape()
    t.m.update_book(bbo((1, 10, 1_000_000, 100, 1_000_500, 100)))
    t.m.on_message("u", enter(1, "B", 150, "AAPL", 1_000_500))
    t.m.on_message("u", enter(2, "B", 50, "AAPL", 1_000_200))
    assert t.take() == [("A", 1, 150, 1_000_500, None), ("E", 1, 100, 1_000_500, "R"), ("A", 2, 50, 1_000_200, None)]
    # the ask moves away, then comes down through both resting buys: price priority, each at its own limit
    t.m.update_book(bbo((1, 20, 1_000_000, 100, 1_000_600, 100), (2, 21, 1, 1, 3_000_000, 5),
                        (1, 30, 1_000_000, 100, 1_000_100, 70)))
    assert t.take() == [("E", 1, 50, 1_000_500, "A"), ("E", 2, 20, 1_000_200, "A")]
    assert [(f.token, f.ts, f.liquidity) for f in t.m.fills[1:]] == [(1, 30, "A"), (2, 30, "A")]
    t.m.update_book(bbo((1, 40, 1_000_000, 100, 1_000_200, 500)))
    assert t.take() == [("E", 2, 30, 1_000_200, "A")]
    assert t.m.counters["executions"] == 4 and not t.m._resting


def test_cancel_partial_and_whole_unknown_and_noop():
    t = Tape()
    t.m.on_message("u", enter(1, "S", 100, "AAPL", 1_000_000))  # no book yet: rests
    t.m.on_message("u", ouch.encode("X", user_ref_num=1, quantity=40))
    t.m.on_message("u", ouch.encode("X", user_ref_num=1, quantity=40))  # no reduction: ignored, counted
    t.m.on_message("u", ouch.encode("X", user_ref_num=1, quantity=0))
    t.m.on_message("u", ouch.encode("X", user_ref_num=9, quantity=0))  # unknown: ignored, counted
    assert t.take() == [("A", 1, 100, 1_000_000, None), ("C", 1, 60, None, "U"), ("C", 1, 40, None, "U")]
    assert (t.m.counters["cancel_noop"], t.m.counters["cancel_unknown"]) == (1, 1)
    t.m.update_book(bbo((1, 1, 2_000_000, 500, 2_000_100, 500)))  # would have crossed: the order is gone
    assert t.take() == [] and t.m.fills == []


@pytest.mark.parametrize("msg, code", [
    (enter(1, "B", 100, "NOPE", 10_000), 0x17), (enter(1, "X", 100, "AAPL", 10_000), 0x09),
    (enter(1, "B", 0, "AAPL", 10_000), 0x13), (enter(1, "B", 2_000_000, "AAPL", 10_000), 0x13),
    (enter(1, "B", 100, "AAPL", 0), 0x1D), (enter(1, "B", 100, "AAPL", 10_000, "5"), 0x0F),
])
def test_bad_orders_are_rejected_with_the_ouch_reason(msg: bytes, code: int):
    t = Tape()
    t.m.on_message("u", msg)
    assert t.take() == [("J", 1, None, None, code)]
    assert t.m.counters["rejected"] == 1


def test_non_increasing_token_and_malformed_are_counted():
    t = Tape()
    t.m.on_message("u", enter(5, "B", 1, "AAPL", 10_000))
    t.m.on_message("u", enter(5, "B", 1, "AAPL", 10_000))
    t.m.on_message("u", b"O123")
    assert [x[0] for x in t.take()] == ["A"]
    assert (t.m.counters["bad_token"], t.m.counters["malformed"]) == (1, 1)


def test_replace_moves_the_order_and_matches_it_again():
    t = Tape()
    t.m.update_book(bbo((1, 1, 1_000_000, 100, 1_000_500, 80)))
    t.m.on_message("u", enter(1, "B", 100, "AAPL", 1_000_000))
    t.m.on_message("u", ouch.encode("U", orig_user_ref_num=1, user_ref_num=2, quantity=100, price=1_000_500,
                                    time_in_force="0", display="Y", intermarket_sweep="N", cl_ord_id="2"))
    assert t.take() == [("A", 1, 100, 1_000_000, None), ("U", 2, 100, 1_000_500, None), ("E", 2, 80, 1_000_500, "R")]


def test_the_same_calls_give_the_same_fills():
    def run() -> list[Fill]:
        t = Tape()
        rng = np.random.default_rng(7)
        for i in range(200):
            t.m.update_book(bbo((1 + i % 2, i, 1_000_000 + 100 * int(rng.integers(-5, 5)), int(rng.integers(0, 300)),
                                 1_000_600 + 100 * int(rng.integers(-5, 5)), int(rng.integers(0, 300)))))
            t.m.on_message("u", enter(i + 1, "BS"[i % 2], int(rng.integers(1, 400)), SYMBOLS[1 + i % 2],
                                      1_000_300 + 100 * int(rng.integers(-4, 4)), "03"[i % 3 == 0]))
        return t.m.fills

    a, b = run(), run()
    assert a == b and len(a) > 50


def _poll(c: SoupBinClient, n: int = 1, timeout: float = 5.0) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"{c.state} {c.counters}"
        got += c.poll()
    return got


def test_sim_server_logs_in_replays_and_rejects_bad_logins():
    with SimExchange(heartbeat_interval=0.05) as sim:
        sim.set_symbols(SYMBOLS)
        c = SoupBinClient(*sim.address, "tick", "gate").connect()
        c.send(enter(1, "B", 10, "AAPL", 10_000))
        sim.sync()
        got = _poll(c)
        assert ouch.decode(got[0])[0] == "A" and c.session == "SIMEXCH001" and c.next_sequence == 2
        c.close()
        again = SoupBinClient(*sim.address, "tick", "gate", "SIMEXCH001", 1).connect()  # replay from 1
        assert ouch.decode(_poll(again)[0])[1]["user_ref_num"] == 1
        bad = SoupBinClient(*sim.address, "tick", "nope")
        with pytest.raises(ConnectionError, match="not authorized"):
            bad.connect()
        wrong = SoupBinClient(*sim.address, "tick", "gate", "OTHERSESS")
        with pytest.raises(ConnectionError, match="session not available"):
            wrong.connect()
        assert sim.counters["logins"] == 2 and sim.counters["login_rejects"] == 2


def test_sim_heartbeats_and_drops_a_silent_client():
    with SimExchange(heartbeat_interval=0.05, client_timeout=0.3) as sim:
        c = SoupBinClient(*sim.address, "tick", "gate", heartbeat_interval=10.0, reconnect=False).connect()
        end = time.monotonic() + 2.0
        while c.active and time.monotonic() < end:
            c.poll()
            time.sleep(0.002)
        assert not c.active and c.counters["link_drops"] == 1 and c.counters["heartbeats_received"] >= 3
        assert sim.counters["client_timeouts"] == 1 and sim.counters["heartbeats_sent"] >= 3


def test_an_order_sent_before_update_book_meets_the_book_before_it():
    with SimExchange() as sim:
        sim.set_symbols(SYMBOLS)
        c = SoupBinClient(*sim.address, "tick", "gate").connect()
        for i in range(20):
            sim.update_book(bbo((1, 2 * i, 1_000_000, 100, 1_000_500, 100)))
            c.send(enter(i + 1, "B", 10, "AAPL", 1_000_500, "3"))  # marketable against this book only
            sim.update_book(bbo((1, 2 * i + 1, 1_000_000, 100, 1_001_000, 100)))
        fills = sim.fills
        assert [(f.token, f.price, f.shares, f.ts) for f in fills] == [(i + 1, 1_000_500, 10, 2 * i) for i in range(20)]
        assert sim.summary()["position"] == {"AAPL": 200}
        c.close()


def test_packets_arriving_with_the_close_are_handled_nasdaq_client():
    """Issue 17: Nasdaq's own client (nasdaq-protocols) sends an order, a Logout Request and closes at once; the
    simulator handles both (it used to close on the empty read first, losing them), and counts them."""
    nasdaq_soup = pytest.importorskip("nasdaq_protocols.soup")
    with SimExchange() as sim:
        sim.set_symbols(SYMBOLS)
        for token in range(1, 6):
            peer = nasdaq_soup.connect(sim.address, "tick", "gate", sequence=0)
            peer.send_unseq_data(enter(token, "B", 10, "AAPL", 10_000))
            peer.logout()
        deadline = time.monotonic() + 5.0
        while sim.summary()["orders"] < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        summary = sim.summary()
        assert summary["orders"] == summary["accepted"] == 5
        c = summary["counters"]
        assert c["logouts"] == 5 and c["logins"] == 5
        # each Logout Request closed its connection; those read together with the client's close are counted
        assert c["closed_by_client"] == 0 and c["partial_at_close"] == 0 and c["packets_at_close"] <= 10


def test_a_close_without_logout_keeps_whole_packets_and_counts_a_partial_one():
    import socket

    from tickgate.protocol import soupbintcp as soup

    with SimExchange() as sim:
        sim.set_symbols(SYMBOLS)
        s = socket.create_connection(sim.address)
        s.sendall(soup.encode("L", username="tick", password="gate", requested_session="",
                              requested_sequence_number=0))
        assert s.recv(64)[2:3] == b"A"
        order = soup.frame("U", enter(1, "B", 10, "AAPL", 10_000))
        s.sendall(order + soup.frame("U", enter(2, "B", 10, "AAPL", 10_000))[:7])  # and half of another
        s.close()
        deadline = time.monotonic() + 5.0
        while sim.counters["closed_by_client"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        c = sim.counters
        assert (c["closed_by_client"], c["partial_at_close"], sim.summary()["accepted"]) == (1, 1, 1)


def _voluntary_switches(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches"):
            return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches")  # pragma: no cover - Linux has it


@pytest.mark.parametrize("busy_poll", [False, True])
def test_the_simulator_answers_orders_asleep_or_busy_polling(busy_poll):
    """`busy_poll`: the loop never sleeps (no voluntary context switch while idle), and answers orders the same."""
    with SimExchange(busy_poll=busy_poll) as sim:
        sim.set_symbols(SYMBOLS)
        sim.update_book(bbo((1, 1, 1_000_000, 100, 1_000_500, 100)))
        c = SoupBinClient(*sim.address, "tick", "gate").connect()
        got = []
        for token in range(1, 4):
            c.send(enter(token, "B", 10, "AAPL", 999_000, "3"))  # away from the touch: accepted, then canceled
            deadline = time.monotonic() + 5.0
            while len(got) < 2 * token and time.monotonic() < deadline:
                got += [ouch.decode(m)[0:2] for m in c.poll()]
        assert [(t, m["user_ref_num"]) for t, m in got] == [(k, tok) for tok in range(1, 4) for k in "AC"]
        pid = sim._proc.pid  # type: ignore[union-attr]
        before = _voluntary_switches(pid)
        time.sleep(0.3)  # idle: asleep, the loop wakes on its 50 ms tick; busy polling, it never sleeps
        woke = _voluntary_switches(pid) - before
        assert woke == 0 if busy_poll else woke >= 2
        c.close()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nowhere else to put the simulator")
def test_a_trader_pinned_to_a_cpu_keeps_the_simulator_off_it():
    from tickgate.host.exchange import open_exchange

    cpu = max(os.sched_getaffinity(0))
    gw, sim, _ = open_exchange("sim", trader_cpu=cpu)
    try:
        assert sim.cpus == os.sched_getaffinity(0) - {cpu} == os.sched_getaffinity(sim.pid)
    finally:
        gw.close()
        sim.close()
