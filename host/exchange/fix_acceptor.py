"""The simulator's FIX 4.4 acceptor: QuickFIX sessions in front of the simulator's one `Matcher`.

It runs in the simulator's process, on its thread: the engine is polled (`pump`) from the server's loop, so a
book update still meets every order a client wrote before it. Each client comp ID is a session and a matcher
user (`fix:COMPID`); FIX requests are translated to the matcher's OUCH messages under tokens of its own, and
what the matcher emits back to ExecutionReports and OrderCancelRejects:

    D -> Enter Order      A -> 8 New             E -> 8 Trade (LastQty, LastPx, CumQty, AvgPx)
    F -> Cancel Order     J -> 8 Rejected (OrdRejReason, Text) or, of a replacement, 9
    G -> Replace Order    C -> 8 Canceled (Text: the cancel reason) or, of a reduction, 8 Replaced
         (same price, fewer shares: a Cancel Order down to them)
    U -> 8 Replaced (the new ClOrdID; OrderQty, CumQty, LeavesQty carried over)

A cancel or replace the matcher has nothing to do for (an unknown, filled or already smaller order) is
answered with OrderCancelReject `9`. Logon, heartbeats, resends and sequence resets are the engine's.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import quickfix as fix

from tickgate.host.orders.fix_session import FixSessionConfig, factories
from tickgate.protocol import ouch
from tickgate.protocol.fix import ORD_REJ_OF_OUCH, ORD_TYPE_LIMIT, Tag, price4, price_text

from .matching import Matcher

__all__ = ["FixAcceptor"]

COUNTERS = ("fix_logons", "fix_logouts", "fix_messages_in", "fix_orders", "fix_cancels", "fix_replaces",
            "fix_cancel_rejects", "fix_direct_rejects", "fix_unsupported", "fix_errors", "fix_sent")
_OUCH_SIDE = {"1": "B", "2": "S", "5": "T", "6": "E"}
PUMP_MAX = 64  # engine polls per pump at most (each reads what every connection has)


@dataclass(slots=True)
class _FixOrder:
    """One order as its client knows it: the ClOrdID chain's last, quantities for the reports."""

    cl: str
    symbol: str
    side: str  # FIX Side(54)
    qty: int  # OrderQty: cumulative, reductions taken off
    price: int
    tif: str
    leaves: int
    cum: int = 0
    notional: int = 0  # sum of shares * Price(4) filled
    order_id: str = "NONE"
    replaces: str = ""  # the ClOrdID this order replaced, if it is a replacement


class _App(fix.Application):
    def __init__(self, acceptor: FixAcceptor) -> None:
        super().__init__()
        self.a = acceptor

    def onCreate(self, sid: fix.SessionID) -> None:
        pass

    def onLogon(self, sid: fix.SessionID) -> None:
        self.a.counters["fix_logons"] += 1

    def onLogout(self, sid: fix.SessionID) -> None:
        self.a.counters["fix_logouts"] += 1

    def toAdmin(self, msg: fix.Message, sid: fix.SessionID) -> None:
        pass

    def fromAdmin(self, msg: fix.Message, sid: fix.SessionID) -> None:
        self.a.counters["fix_messages_in"] += 1

    def toApp(self, msg: fix.Message, sid: fix.SessionID) -> None:
        pass

    def fromApp(self, msg: fix.Message, sid: fix.SessionID) -> None:
        self.a.counters["fix_messages_in"] += 1
        try:
            self.a.on_message(msg, sid)
        except Exception as exc:  # a field the engine let through but the simulator cannot use: answered, counted
            self.a.counters["fix_errors"] += 1
            self.a.reject(msg, sid, f"{type(exc).__name__}: {exc}", "0")


class FixAcceptor:
    """FIX sessions for `clients` (their SenderCompIDs) on `port` (0: a free one), over `matcher`."""

    def __init__(self, matcher: Matcher, port: int = 0, *, sender: str = "SIMEXCH", clients: tuple[str, ...] =
                 ("TICKGATE",), store: str | None = None, log: str | None = None) -> None:
        if port == 0:
            with socket.socket() as s:  # the engine reports no port it chose itself: choose one for it
                s.bind(("", 0))
                port = s.getsockname()[1]
        self.port = port
        self.matcher = matcher
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        settings = fix.SessionSettings()
        self._users: dict[str, fix.SessionID] = {}
        for client in clients:
            config = FixSessionConfig(sender, client, port=port, acceptor=True, reset_on_logon=False,
                                      store=Path(store) if store else None, log=Path(log) if log else None)
            config.add_to(settings)
            self._users[f"fix:{client}"] = config.session_id()
        self._user_of = {sid.toString(): user for user, sid in self._users.items()}
        self._orders: dict[tuple[str, int], _FixOrder] = {}  # (user, matcher token) -> order
        self._by_cl: dict[tuple[str, str], int] = {}  # (user, any ClOrdID of the chain) -> matcher token
        self._next_token: dict[str, int] = {}
        self._request: tuple[str, str] | None = None  # ("cancel" | "reduce", ClOrdID) being handed to the matcher
        self._answered = False
        self._exec_ids = 0
        self._app = _App(self)
        store_f, log_f = factories(settings, next(iter(self._users.values())))
        self._keep = (store_f, log_f, settings)
        self.acceptor = fix.SocketAcceptor(self._app, store_f, settings, log_f)
        self.acceptor.poll()  # binds the port

    # --- the server's loop ----------------------------------------------------------------------------------------

    def pump(self) -> None:
        """Let the engine read and answer everything its connections hold now (never blocks)."""
        for _ in range(PUMP_MAX):
            before = self.counters["fix_messages_in"]
            self.acceptor.poll()
            if self.counters["fix_messages_in"] == before:
                self.acceptor.poll()  # the rest of a message read in part
                if self.counters["fix_messages_in"] == before:
                    return

    def drop(self) -> None:
        """Drop every connection without a Logout (a link lost)."""
        for sid in self._users.values():
            session = fix.Session.lookupSession(sid)
            if session is not None and session.isLoggedOn():
                session.disconnect()

    def close(self, wait_s: float = 1.0) -> None:
        """Logout to every logged-on client (waiting up to `wait_s` for theirs), then stop."""
        import time

        for sid in self._users.values():
            session = fix.Session.lookupSession(sid)
            if session is not None and session.isLoggedOn():
                self._send(fix.Message(), sid, "5")
        deadline = time.monotonic() + wait_s
        while self.acceptor.isLoggedOn() and time.monotonic() < deadline:
            self.acceptor.poll()
            time.sleep(0.001)
        self.acceptor.stop(True)

    # --- inbound --------------------------------------------------------------------------------------------------

    def on_message(self, msg: fix.Message, sid: fix.SessionID) -> None:
        user = self._user_of[sid.toString()]
        t = msg.getHeader().getField(Tag.MSG_TYPE)
        if t == "D":
            self._new_order(user, sid, msg)
        elif t == "F":
            self._cancel(user, sid, msg)
        elif t == "G":
            self._replace(user, sid, msg)
        else:
            self.counters["fix_unsupported"] += 1
            self.reject(msg, sid, f"the simulator does not take MsgType {t}", "3")

    def _token(self, user: str) -> int:
        token = self._next_token.get(user, 1)
        self._next_token[user] = token + 1
        return token

    def _new_order(self, user: str, sid: fix.SessionID, msg: fix.Message) -> None:
        self.counters["fix_orders"] += 1
        cl = msg.getField(Tag.CL_ORD_ID)
        symbol, side = msg.getField(Tag.SYMBOL), msg.getField(Tag.SIDE)
        qty, tif = int(float(msg.getField(Tag.ORDER_QTY))), _get(msg, Tag.TIME_IN_FORCE, "0")
        price = _price(_get(msg, Tag.PRICE, "0"))
        order = _FixOrder(cl, symbol, side, qty, price, tif, qty)
        why = ""
        if (user, cl) in self._by_cl:
            why = "6:Duplicate ClOrdID"
        elif msg.getField(Tag.ORD_TYPE) != ORD_TYPE_LIMIT:
            why = "11:only limit orders (OrdType 2) are simulated"
        elif len(symbol) > 8:
            why = "1:symbol longer than 8 characters"
        if why:
            code, _, text = why.partition(":")
            self.counters["fix_direct_rejects"] += 1
            self._send(self._report(order, "8", "8", reason=int(code), text=text), sid, "8")
            return
        token = self._token(user)
        self._orders[user, token] = order
        self._by_cl[user, cl] = token
        self.matcher.on_message(user, ouch.encode(
            "O", user_ref_num=token, side=_OUCH_SIDE.get(side, "?"), quantity=min(max(qty, 0), 0xFFFFFFFF),
            symbol=symbol, price=min(max(price, 0), ouch.MAX_PRICE + 1), time_in_force=tif[:1] or "0", display="Y",
            capacity="A", intermarket_sweep="N", cross_type="N", cl_ord_id=""))

    def _cancel(self, user: str, sid: fix.SessionID, msg: fix.Message) -> None:
        self.counters["fix_cancels"] += 1
        cl, orig = msg.getField(Tag.CL_ORD_ID), msg.getField(Tag.ORIG_CL_ORD_ID)
        token = self._by_cl.get((user, orig))
        if token is None or (user, cl) in self._by_cl:
            self._cancel_reject(sid, cl, orig, "1", 6 if token is not None else 1)
            return
        self._via_matcher(("cancel", cl), user, ouch.encode("X", user_ref_num=token, quantity=0))
        if not self._answered:
            self._cancel_reject(sid, cl, orig, "1", 0, self._orders[user, token].order_id)

    def _replace(self, user: str, sid: fix.SessionID, msg: fix.Message) -> None:
        self.counters["fix_replaces"] += 1
        cl, orig = msg.getField(Tag.CL_ORD_ID), msg.getField(Tag.ORIG_CL_ORD_ID)
        token = self._by_cl.get((user, orig))
        if token is None or (user, cl) in self._by_cl:
            self._cancel_reject(sid, cl, orig, "2", 6 if token is not None else 1)
            return
        old = self._orders[user, token]
        qty, price = int(float(msg.getField(Tag.ORDER_QTY))), _price(_get(msg, Tag.PRICE, "0"))
        tif = _get(msg, Tag.TIME_IN_FORCE, old.tif)
        leaves = qty - old.cum
        if leaves <= 0 or old.leaves == 0:
            self._cancel_reject(sid, cl, orig, "2", 0, old.order_id)
            return
        if price == old.price and tif == old.tif and qty < old.qty:  # a reduction: cancel down, keep priority
            self._via_matcher(("reduce", cl), user, ouch.encode("X", user_ref_num=token, quantity=leaves))
            if not self._answered:
                self._cancel_reject(sid, cl, orig, "2", 0, old.order_id)
            return
        new = self._token(user)
        self._orders[user, new] = _FixOrder(cl, old.symbol, old.side, qty, price, tif, leaves, old.cum, old.notional,
                                            old.order_id, replaces=old.cl)
        self._by_cl[user, cl] = new
        self.matcher.on_message(user, ouch.encode(
            "U", orig_user_ref_num=token, user_ref_num=new, quantity=min(leaves, 0xFFFFFFFF),
            price=min(max(price, 0), ouch.MAX_PRICE + 1), time_in_force=tif[:1] or "0", display="Y",
            intermarket_sweep="N", cl_ord_id=""))

    def _via_matcher(self, request: tuple[str, str], user: str, payload: bytes) -> None:
        self._request, self._answered = request, False
        try:
            self.matcher.on_message(user, payload)
        finally:
            self._request = None

    # --- outbound: what the matcher emits for a FIX user ----------------------------------------------------------

    def emit(self, user: str, payload: bytes) -> None:
        """One OUCH message of the matcher to `user`, as the FIX message its session gets."""
        sid = self._users[user]
        t, m = ouch.decode(payload, "out")
        order = self._orders[user, m["user_ref_num"]]
        if t == "A":
            order.order_id = str(m["order_reference_number"])
            self._send(self._report(order, "0", "0"), sid, "8")
        elif t == "E":
            shares, px = m["quantity"], m["price"]
            order.cum += shares
            order.leaves -= shares
            order.notional += shares * px
            status = "2" if order.leaves == 0 else "1"
            self._send(self._report(order, "F", status, last=(shares, px), exec_id=f"M{m['match_number']}"), sid,
                       "8")
        elif t == "C":
            self._canceled(order, m, sid)
        elif t == "U":
            old = self._orders[user, m["orig_user_ref_num"]]
            old.leaves = 0
            order.order_id = str(m["order_reference_number"])
            self._send(self._report(order, "5", "1" if order.cum else "0", orig=order.replaces), sid, "8")
        elif t == "J":
            code = m["reason"]
            if order.replaces:  # a replacement the matcher refused: the replace is rejected, the order stands
                self._cancel_reject(sid, order.cl, order.replaces, "2", 99, order.order_id,
                                    ouch.reject_reason_text(code))
            else:
                self._send(self._report(order, "8", "8", reason=ORD_REJ_OF_OUCH.get(code, 99),
                                        text=ouch.reject_reason_text(code)), sid, "8")

    def _canceled(self, order: _FixOrder, m: dict, sid: fix.SessionID) -> None:
        taken = m["quantity"]
        request = self._request
        self._answered = True
        if request is not None and request[0] == "reduce":
            orig, order.cl = order.cl, request[1]
            self._by_cl[self._user_of[sid.toString()], order.cl] = self._by_cl[self._user_of[sid.toString()], orig]
            order.qty -= taken
            order.leaves -= taken
            self._send(self._report(order, "5", "1" if order.cum else "0", orig=orig), sid, "8")
            return
        qty_before = order.qty  # the report's OrderQty - CumQty are the shares canceled
        order.leaves -= taken
        text = ouch.CANCEL_REASONS.get(m["reason"], f"reason {m['reason']!r}")
        if request is not None:  # an OrderCancelRequest: the report carries its ClOrdID
            report = self._report(order, "4", "4", text=text, orig=order.cl, cl=request[1], qty=qty_before)
        else:
            report = self._report(order, "4", "4", text=text, qty=qty_before)
        self._send(report, sid, "8")

    # --- messages -------------------------------------------------------------------------------------------------

    def _report(self, o: _FixOrder, exec_type: str, status: str, *, reason: int | None = None, text: str = "",
                last: tuple[int, int] | None = None, exec_id: str = "", orig: str = "", cl: str = "",
                qty: int | None = None) -> fix.Message:
        msg = fix.Message()
        self._exec_ids += 1
        msg.setField(Tag.ORDER_ID, o.order_id)
        msg.setField(Tag.CL_ORD_ID, cl or o.cl)
        if orig:
            msg.setField(Tag.ORIG_CL_ORD_ID, orig)
        msg.setField(Tag.EXEC_ID, exec_id or f"X{self._exec_ids}")
        msg.setField(Tag.EXEC_TYPE, exec_type)
        msg.setField(Tag.ORD_STATUS, status)
        msg.setField(Tag.SYMBOL, o.symbol)
        msg.setField(Tag.SIDE, o.side)
        msg.setField(Tag.ORDER_QTY, str(o.qty if qty is None else qty))
        msg.setField(Tag.ORD_TYPE, ORD_TYPE_LIMIT)
        msg.setField(Tag.PRICE, price_text(o.price))
        msg.setField(Tag.TIME_IN_FORCE, o.tif)
        msg.setField(Tag.LEAVES_QTY, str(0 if status in "248" else o.leaves))
        msg.setField(Tag.CUM_QTY, str(o.cum))
        msg.setField(Tag.AVG_PX, price_text(o.notional // o.cum) if o.cum else "0")
        if last is not None:
            msg.setField(Tag.LAST_QTY, str(last[0]))
            msg.setField(Tag.LAST_PX, price_text(last[1]))
        if reason is not None:
            msg.setField(Tag.ORD_REJ_REASON, str(reason))
        if text:
            msg.setField(Tag.TEXT, text)
        msg.setField(fix.TransactTime())
        return msg

    def _cancel_reject(self, sid: fix.SessionID, cl: str, orig: str, response_to: str, reason: int,
                       order_id: str = "NONE", text: str = "") -> None:
        self.counters["fix_cancel_rejects"] += 1
        msg = fix.Message()
        msg.setField(Tag.ORDER_ID, order_id)
        msg.setField(Tag.CL_ORD_ID, cl)
        msg.setField(Tag.ORIG_CL_ORD_ID, orig)
        msg.setField(Tag.ORD_STATUS, "8" if reason in (1, 6) else "0")
        msg.setField(Tag.CXL_REJ_RESPONSE_TO, response_to)
        msg.setField(Tag.CXL_REJ_REASON, str(reason))
        if text:
            msg.setField(Tag.TEXT, text)
        self._send(msg, sid, "9")

    def reject(self, msg: fix.Message, sid: fix.SessionID, text: str, reason: str) -> None:
        """BusinessMessageReject `j` of `msg` (reason 3: unsupported message type; 0: other)."""
        out = fix.Message()
        out.setField(Tag.REF_SEQ_NUM, msg.getHeader().getField(Tag.MSG_SEQ_NUM))
        out.setField(372, msg.getHeader().getField(Tag.MSG_TYPE))  # RefMsgType
        if msg.isSetField(Tag.CL_ORD_ID):
            out.setField(379, msg.getField(Tag.CL_ORD_ID))  # BusinessRejectRefID
        out.setField(Tag.BUSINESS_REJECT_REASON, reason)
        out.setField(Tag.TEXT, text)
        self._send(out, sid, "j")

    def _send(self, msg: fix.Message, sid: fix.SessionID, msg_type: str) -> None:
        msg.getHeader().setField(Tag.MSG_TYPE, msg_type)
        fix.Session.sendToTarget(msg, sid)  # while the client is away: kept for its resend request
        self.counters["fix_sent"] += 1


def _get(msg: fix.Message, tag: int, default: str) -> str:
    return msg.getField(tag) if msg.isSetField(tag) else default


def _price(text: str) -> int:
    try:
        return price4(text)
    except ValueError:
        return 0  # the matcher rejects it: Invalid Price
