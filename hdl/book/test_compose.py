"""`EventComposer` against the reference model's packing: every request kind, random values, slot order.

`expected_events` turns what the sequencer reports on a cycle (the composer's requests) into the records
the model would emit, packed with the model's own `EventSink` formats; the sequencer's test reuses it.
"""

import random
import struct

import pytest
from amaranth.sim import Simulator

from tickgate.protocol.events import (
    EVENT_SIZE,
    DegradedReason,
    EventFlag,
    EventKind,
    SessionCode,
    fields_of,
    pack_format,
    pack_order,
)

from .compose import EventComposer, First

_PACK = {k: struct.Struct(pack_format(k)).pack for k in EventKind}
_BYTES = {f.name: f.width for k in EventKind for f in fields_of(k) if f.dtype.startswith("S")}


def pack(kind: EventKind, **values: int) -> bytes:
    """One record as the model's sink packs it (fields not given are 0; byte fields from little-endian ints)."""
    values["kind"] = int(kind)
    args = []
    for name in pack_order(kind):
        v = values.pop(name, 0)
        args.append(v.to_bytes(_BYTES[name], "little") if name in _BYTES else v)
    assert not values, values
    return _PACK[kind](*args)


def expected_events(req: dict, now: int) -> list[bytes]:
    """The records, in slot order, that one cycle's requests (`req`, as read from a `ComposeSignature`
    with `msg` a dict of record fields) make, as the reference model packs them."""
    msg = req["msg"]
    common = dict(msg_type=msg["type"], seq=msg["seq"], ts_exch=msg["timestamp"], ts_local=now)
    out = []
    first = req["first"]
    if first["valid"]:
        what, flags = First(first["what"]), int(EventFlag.DEGRADED) if first["degraded"] else 0
        notice = dict(seq=msg["seq"], ts_local=now)
        trade = dict(flags=flags, locate=msg["locate"], **common, trade_px=msg["price"], printable=ord("Y"),
                     trade_shares=msg["shares"], match_number=msg["match"])
        out.append({
            First.GAP: lambda: pack(EventKind.GAP, **notice, gap_expected=msg["ref"], gap_received=msg["seq"],
                                    gap_missed=(msg["seq"] - msg["ref"]) % (1 << 64)),
            First.SESSION_END: lambda: pack(EventKind.SESSION, **notice, session_code=SessionCode.END,
                                            session=msg["session"]),
            First.SESSION_CHANGED: lambda: pack(EventKind.SESSION, **notice, session_code=SessionCode.CHANGED,
                                                session=msg["session"]),
            First.SYSTEM: lambda: pack(EventKind.STATUS, locate=msg["locate"], **common, status_code=msg["flag"]),
            First.NON_CROSS_TRADE: lambda: pack(EventKind.TRADE, **trade, trade_side=msg["side"]),
            First.CROSS_TRADE: lambda: pack(EventKind.TRADE, **trade, cross_type=msg["flag"]),
            First.TRADING_ACTION: lambda: pack(EventKind.STATUS, flags=flags, locate=msg["locate"], **common,
                                               status_code=msg["flag"], status_reason=msg["reason"]),
            First.SYMBOLS_FULL: lambda: pack(EventKind.DEGRADED, flags=int(EventFlag.DEGRADED), locate=msg["locate"],
                                             **common, degraded_reason=DegradedReason.SYMBOLS_FULL),
            First.EXECUTION: lambda: pack(
                EventKind.TRADE, flags=flags, locate=first["locate"], **common, trade_px=first["price"],
                trade_side=ord("B" if first["is_bid"] else "S"),
                printable=ord("Y") if msg["type"] == ord("E") else msg["flag"], trade_shares=first["shares"],
                match_number=msg["match"], order_ref=msg["ref"]),
        }[what]())
    lv = req["level"]
    if lv["valid"]:
        e = lv["event"]
        out.append(pack(EventKind.LEVEL, flags=int(EventFlag.DEGRADED) if lv["degraded"] else 0, locate=lv["locate"],
                        **common, level_side=ord("B" if lv["is_bid"] else "S"), level_action=e["action"],
                        level_index=e["index"], level_px=e["price"], level_sz=e["shares"], level_orders=e["orders"]))
    deg = req["degraded"]
    if deg["valid"]:
        out.append(pack(EventKind.DEGRADED, flags=int(EventFlag.DEGRADED), locate=deg["locate"], **common,
                        degraded_reason=deg["reason"]))
    for name in ("bbo", "bbo_other"):
        b = req[name]
        if b["valid"]:
            out.append(pack(EventKind.BBO, flags=b["flags"], locate=b["locate"], **common, **b["bbo"]))
    return out


_MSG_WIDTHS = {"notice": 8, "type": 8, "seq": 64, "locate": 16, "timestamp": 48, "ref": 64, "new_ref": 64, "side": 8,
               "shares": 64, "price": 32, "match": 64, "flag": 8, "stock": 64, "reason": 32, "session": 80}


def _random_request(rng: random.Random) -> dict:
    def r(bits: int) -> int:
        return rng.getrandbits(bits)

    msg = {name: r(w) for name, w in _MSG_WIDTHS.items()}
    msg["type"] = ord(rng.choice("AEPQHSCXDU"))
    return {
        "msg": msg,
        "first": {"valid": rng.random() < 0.6, "what": rng.choice(list(First)), "degraded": r(1), "locate": r(16),
                  "price": r(32), "is_bid": r(1), "shares": r(32)},
        "level": {"valid": rng.random() < 0.5, "slot": rng.randrange(3), "degraded": r(1), "locate": r(16),
                  "is_bid": r(1), "event": {"valid": 1, "action": r(8), "index": r(8), "price": r(32),
                                            "shares": r(32), "orders": r(32)}},
        "degraded": {"valid": rng.random() < 0.3, "locate": r(16), "reason": rng.choice(list(DegradedReason))},
        "bbo": {"valid": rng.random() < 0.5, "flags": r(1), "locate": r(16),
                "bbo": {"bid_px": r(32), "bid_sz": r(32), "ask_px": r(32), "ask_sz": r(32)}},
        "bbo_other": {"valid": rng.random() < 0.3, "flags": r(1), "locate": r(16),
                      "bbo": {"bid_px": r(32), "bid_sz": r(32), "ask_px": r(32), "ask_sz": r(32)}},
    }


@pytest.mark.parametrize("ready_rate", [1.0, 0.4])
def test_composer_matches_the_model(ready_rate: float) -> None:
    """Random requests, one message a cycle when there is room; every record equals the model's, in slot
    order, and `latency` is reported on each message's first event."""
    dut = EventComposer()
    rng = random.Random(7)
    want: list[bytes] = []
    got: list[bytes] = []
    firsts: list[int] = []

    async def bench(ctx) -> None:
        now, messages = 1000, 0
        ctx.set(dut.stamp, 0)
        while messages < 300 or len(got) < len(want):
            ctx.set(dut.now, now)
            ctx.set(dut.o.ready, rng.random() < ready_rate)
            offered = messages < 300 and ctx.get(dut.req.room)
            if offered:
                req = _random_request(rng)
                ctx.set(dut.req.msg, req["msg"])
                for name in ("first", "level", "degraded", "bbo", "bbo_other"):
                    ctx.set(getattr(dut.req, name), req[name])
                ctx.set(dut.req.hand_off, 1)
                want.extend(expected_events(req, now))
                messages += 1
            else:
                for name in ("first", "level", "degraded", "bbo", "bbo_other"):
                    ctx.set(getattr(dut.req, name).valid, 0)
                ctx.set(dut.req.hand_off, 1)
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                got.append(ctx.get(dut.o.payload).to_bytes(EVENT_SIZE, "little"))
                lat = ctx.get(dut.latency)
                firsts.append(lat.valid)
            await ctx.tick()
            now += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(got) == len(want) > 300
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, (i, g.hex(), w.hex())
    assert 0 < sum(firsts) < len(got)


@pytest.mark.parametrize("ready_rate", [1.0, 0.5])
def test_composer_closing_hand_off(ready_rate: float) -> None:
    """Messages over two cycles, as the sequencer makes them: taken (FIRST filled, the message before handed
    off, when `room`), then their last cycle (the other slots), which hands itself off with `closing` (taken
    when `room_closing`; else on a later cycle). Every record equals the model's, in message and slot order."""
    dut = EventComposer()
    rng = random.Random(11)
    want: list[bytes] = []
    got: list[bytes] = []
    closed = 0

    async def bench(ctx) -> None:
        nonlocal closed
        now, messages, step, req = 1000, 0, 0, None
        ctx.set(dut.stamp, 0)
        while messages < 300 or step or len(got) < len(want):
            ctx.set(dut.now, now)
            ctx.set(dut.o.ready, rng.random() < ready_rate)
            for name in ("first", "level", "degraded", "bbo", "bbo_other"):
                ctx.set(getattr(dut.req, name).valid, 0)
            ctx.set(dut.req.closing, 0)
            if step == 1:  # the message's last cycle
                last = {**req, "first": {**req["first"], "valid": 0}}
                for name in ("level", "degraded", "bbo", "bbo_other"):
                    ctx.set(getattr(dut.req, name), req[name])
                ctx.set(dut.req.hand_off, 1)
                ctx.set(dut.req.closing, 1)
                closed += ctx.get(dut.req.room_closing)
                want.extend(expected_events(last, now))
                step = 0
            elif messages < 300 and ctx.get(dut.req.room):  # take one: its FIRST
                req = _random_request(rng)
                ctx.set(dut.req.msg, req["msg"])
                ctx.set(dut.req.first, req["first"])
                ctx.set(dut.req.hand_off, 1)
                want.extend(expected_events({**req, **{n: {"valid": 0} for n in
                                                       ("level", "degraded", "bbo", "bbo_other")}}, now))
                messages, step = messages + 1, 1
            else:
                ctx.set(dut.req.hand_off, 1)
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                got.append(ctx.get(dut.o.payload).to_bytes(EVENT_SIZE, "little"))
            await ctx.tick()
            now += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(got) == len(want) > 300
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, (i, g.hex(), w.hex())
    assert 0 < closed < 300 if ready_rate < 1 else closed > 0
