"""The simulator's matching: OUCH 5.0 orders against the replayed book's top of book. No I/O, deterministic.

The book of each symbol is the last BBO event seen for its locate (bid_px, bid_sz, ask_px, ask_sz). An
incoming buy at or above the best ask fills up to the ask size at the ask price (liquidity 'R'); an incoming
sell at or below the best bid likewise. Liquidity taken is taken off the simulator's view of that level until
the next BBO event of the symbol replaces it. The remainder of an immediate-or-cancel order is canceled
(reason 'I'); a day order's remainder rests, and fills at its own limit price, up to the size shown, when a
later BBO event crosses it (best ask at or below a resting buy, best bid at or above a resting sell; price
then time priority; liquidity 'A'). Outbound messages are handed to `emit(user, payload)` in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tickgate.protocol import ouch
from tickgate.protocol.events import EventKind

__all__ = ["Fill", "Matcher", "SimOrder"]

COUNTERS = ("orders", "accepted", "rejected", "executions", "canceled", "ioc_canceled", "replaced",
            "cancel_unknown", "cancel_noop", "bad_token", "malformed", "bbo_events")
SELL_SIDES = frozenset("STE")  # sell, sell short, sell short exempt
TIFS = {"0": "day", "3": "ioc"}
_BBO = int(EventKind.BBO)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution the simulator reported."""

    user: str
    token: int
    symbol: str
    side: str  # 'B' or 'S'
    shares: int
    price: int  # Price(4)
    match_number: int
    liquidity: str  # 'R' removed (took the book), 'A' added (rested, then crossed)
    ts: int  # exchange time: ts_exch of the last book event applied


@dataclass(slots=True, eq=False)
class SimOrder:
    """A live order in the simulator (compared by identity)."""

    user: str
    token: int
    symbol: str
    locate: int
    side: str  # 'B' or 'S'
    price: int
    remaining: int
    tif: str
    reference: int
    seq: int  # entry order, for time priority


class Matcher:
    """Orders, books and fills; `emit(user, payload)` receives every outbound OUCH message."""

    def __init__(self, emit: Callable[[str, bytes], None], *, max_shares: int = 1_000_000) -> None:
        self.emit = emit
        self.max_shares = max_shares
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.fills: list[Fill] = []
        self.ts = 0  # exchange time of the last book event applied
        self._book = np.zeros((1 << 16, 4), dtype=np.int64)  # per locate: bid_px, bid_sz, ask_px, ask_sz
        self._symbols: dict[int, str] = {}
        self._locates: dict[str, int] = {}
        self._orders: dict[tuple[str, int], SimOrder] = {}
        self._resting: dict[int, list[SimOrder]] = {}  # locate -> live day orders
        self._last_token: dict[str, int] = {}
        self._next_ref = self._next_match = self._seq = 1

    # --- configuration and book ---------------------------------------------------------------------------------

    def set_symbols(self, symbols: dict[int, str]) -> None:
        """Which symbol each stock locate is (orders for other symbols are rejected 'Invalid Symbol')."""
        self._symbols.update({int(k): str(v).rstrip() for k, v in symbols.items()})
        self._locates = {v: k for k, v in self._symbols.items()}

    def book(self, symbol: str) -> tuple[int, int, int, int]:
        """The simulator's current view of a symbol's top of book: bid_px, bid_sz, ask_px, ask_sz."""
        return tuple(int(x) for x in self._book[self._locates[symbol]])  # type: ignore[return-value]

    def update_book(self, events: np.ndarray) -> None:
        """Apply the BBO events of a batch of 64-byte event records, in order, filling crossed resting orders."""
        bbo = events[events["kind"] == _BBO]
        if not len(bbo):
            return
        self.counters["bbo_events"] += len(bbo)
        loc = bbo["locate"].astype(np.int64)
        values = np.stack([bbo["bid_px"], bbo["bid_sz"], bbo["ask_px"], bbo["ask_sz"]], axis=1).astype(np.int64)
        ts = bbo["ts_exch"]
        watched = np.isin(loc, np.fromiter(self._resting, dtype=np.int64, count=len(self._resting)))
        if watched.any():  # symbols with resting orders: event by event
            for i in np.flatnonzero(watched):
                locate = int(loc[i])
                self._book[locate] = values[i]
                self.ts = max(self.ts, int(ts[i]))
                self._cross_resting(locate)
        rest = ~watched
        if rest.any():  # the others: the last event of each locate is their book
            rl = loc[rest][::-1]
            _, first = np.unique(rl, return_index=True)
            self._book[rl[first]] = values[rest][::-1][first]
        self.ts = max(self.ts, int(ts.max()))

    # --- inbound OUCH -------------------------------------------------------------------------------------------

    def on_message(self, user: str, payload: bytes) -> None:
        """One inbound OUCH message of `user`."""
        try:
            t, m = ouch.decode(payload, "in")
        except ouch.OuchError:
            self.counters["malformed"] += 1
            return
        if t == "O":
            self._enter(user, m)
        elif t == "X":
            self._cancel(user, m["user_ref_num"], m["quantity"])
        elif t == "U":
            self._replace(user, m)

    def _token_ok(self, user: str, token: int) -> bool:
        if token <= self._last_token.get(user, -1):
            self.counters["bad_token"] += 1  # not increasing: ignored (a reject would name a live order's token)
            return False
        self._last_token[user] = token
        return True

    def _reject(self, user: str, token: int, code: int, cl_ord_id: str) -> None:
        self.counters["rejected"] += 1
        self.emit(user, ouch.encode("J", "out", timestamp=self.ts, user_ref_num=token, reason=code,
                                    cl_ord_id=cl_ord_id))

    def _check(self, side: str, symbol: str, quantity: int, price: int, tif: str) -> int:
        """0 if the order can be accepted, else the OUCH reject reason code."""
        if side != "B" and side not in SELL_SIDES:
            return 0x09  # Invalid Side
        if symbol not in self._locates:
            return 0x17  # Invalid Symbol
        if not 0 < quantity <= self.max_shares:
            return 0x13  # Invalid Quantity
        if not 0 < price <= ouch.MAX_PRICE:
            return 0x1D  # Invalid Price
        if tif not in TIFS:
            return 0x0F  # Other: only day and IOC are simulated
        return 0

    def _enter(self, user: str, m: dict) -> None:
        self.counters["orders"] += 1
        token = m["user_ref_num"]
        if not self._token_ok(user, token):
            return
        code = self._check(m["side"], m["symbol"], m["quantity"], m["price"], m["time_in_force"])
        if code:
            self._reject(user, token, code, m["cl_ord_id"])
            return
        side = "B" if m["side"] == "B" else "S"
        order = SimOrder(user, token, m["symbol"], self._locates[m["symbol"]], side, m["price"], m["quantity"],
                         m["time_in_force"], self._next_ref, self._seq)
        self._next_ref += 1
        self._seq += 1
        self._orders[user, token] = order
        self.counters["accepted"] += 1
        self.emit(user, ouch.encode(
            "A", "out", timestamp=self.ts, user_ref_num=token, side=m["side"], quantity=m["quantity"],
            symbol=m["symbol"], price=m["price"], time_in_force=m["time_in_force"], display=m["display"] or "Y",
            order_reference_number=order.reference, capacity=m["capacity"] or "A", intermarket_sweep="N",
            cross_type="N", order_state="L", cl_ord_id=m["cl_ord_id"]))
        self._match_incoming(order)

    def _cancel(self, user: str, token: int, quantity: int, reason: str = "U") -> None:
        order = self._orders.get((user, token))
        if order is None or order.remaining == 0:
            self.counters["cancel_unknown"] += 1  # unknown or no longer live: ignored, as the exchange does
            return
        if quantity >= order.remaining:
            self.counters["cancel_noop"] += 1  # would not reduce the order
            return
        taken = order.remaining - quantity
        order.remaining = quantity
        if quantity == 0:
            self._unrest(order)
        self.counters["canceled"] += 1
        self.emit(user, ouch.encode("C", "out", timestamp=self.ts, user_ref_num=token, quantity=taken, reason=reason))

    def _replace(self, user: str, m: dict) -> None:
        old = self._orders.get((user, m["orig_user_ref_num"]))
        token = m["user_ref_num"]
        if old is None or old.remaining == 0:
            self.counters["cancel_unknown"] += 1
            return
        if not self._token_ok(user, token):
            return
        code = self._check(old.side, old.symbol, m["quantity"], m["price"], m["time_in_force"])
        if code:
            self._reject(user, token, code, m["cl_ord_id"])
            return
        self._unrest(old)
        old.remaining = 0
        order = SimOrder(user, token, old.symbol, old.locate, old.side, m["price"], m["quantity"],
                         m["time_in_force"], self._next_ref, self._seq)
        self._next_ref += 1
        self._seq += 1
        self._orders[user, token] = order
        self.counters["replaced"] += 1
        self.emit(user, ouch.encode(
            "U", "out", timestamp=self.ts, orig_user_ref_num=old.token, user_ref_num=token, side=old.side,
            quantity=order.remaining, symbol=old.symbol, price=order.price, time_in_force=order.tif, display="Y",
            order_reference_number=order.reference, capacity="A", intermarket_sweep="N", cross_type="N",
            order_state="L", cl_ord_id=m["cl_ord_id"]))
        self._match_incoming(order)

    # --- matching -----------------------------------------------------------------------------------------------

    def _match_incoming(self, order: SimOrder) -> None:
        bid_px, bid_sz, ask_px, ask_sz = (int(x) for x in self._book[order.locate])
        if order.side == "B" and ask_sz > 0 and order.price >= ask_px:
            self._execute(order, min(order.remaining, ask_sz), ask_px, "R", 3)
        elif order.side == "S" and bid_sz > 0 and order.price <= bid_px:
            self._execute(order, min(order.remaining, bid_sz), bid_px, "R", 1)
        if order.remaining:
            if TIFS[order.tif] == "ioc":
                self.counters["ioc_canceled"] += 1
                self._cancel(order.user, order.token, 0, reason="I")
            else:
                self._resting.setdefault(order.locate, []).append(order)

    def _cross_resting(self, locate: int) -> None:
        orders = self._resting.get(locate)
        if not orders:  # an earlier event of the same batch filled them all
            return
        buys = sorted((o for o in orders if o.side == "B"), key=lambda o: (-o.price, o.seq))
        sells = sorted((o for o in orders if o.side == "S"), key=lambda o: (o.price, o.seq))
        for o in buys:
            ask_px, ask_sz = int(self._book[locate, 2]), int(self._book[locate, 3])
            if ask_sz <= 0 or o.price < ask_px:
                break
            self._execute(o, min(o.remaining, ask_sz), o.price, "A", 3)
        for o in sells:
            bid_px, bid_sz = int(self._book[locate, 0]), int(self._book[locate, 1])
            if bid_sz <= 0 or o.price > bid_px:
                break
            self._execute(o, min(o.remaining, bid_sz), o.price, "A", 1)
        live = [o for o in orders if o.remaining]
        if live:
            self._resting[locate] = live
        else:
            self._resting.pop(locate, None)

    def _execute(self, order: SimOrder, shares: int, price: int, liquidity: str, size_col: int) -> None:
        """Fill `shares` of `order` at `price`, taking them off the book level it traded against."""
        order.remaining -= shares
        self._book[order.locate, size_col] -= shares
        match = self._next_match
        self._next_match += 1
        self.counters["executions"] += 1
        self.fills.append(Fill(order.user, order.token, order.symbol, order.side, shares, price, match, liquidity,
                               self.ts))
        self.emit(order.user, ouch.encode("E", "out", timestamp=self.ts, user_ref_num=order.token, quantity=shares,
                                          price=price, liquidity_flag=liquidity, match_number=match))

    def _unrest(self, order: SimOrder) -> None:
        orders = self._resting.get(order.locate)
        if orders and order in orders:
            orders.remove(order)
            if not orders:
                del self._resting[order.locate]
