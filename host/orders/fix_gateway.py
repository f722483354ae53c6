"""`FixGateway`: the `OrderGateway` over FIX 4.4, through the QuickFIX engine (an initiator session).

enter -> NewOrderSingle `D` (ClOrdID = the token), cancel -> OrderCancelRequest `F` (or, down to some shares,
an OrderCancelReplaceRequest `G` at the same price), replace -> `G` under the new token's ClOrdID. poll ->
`OrderUpdate`s, the very ones the OUCH gateway gives: ExecutionReport `8` New -> ACCEPTED, Trade -> EXECUTED
(LastQty at LastPx), Canceled and Expired -> CANCELED (the open shares, Text as the reason), Replaced -> the new
token ACCEPTED ("replaces N") or, for a reduction, CANCELED by the shares taken off, Rejected -> REJECTED with
OrdRejReason and Text; OrderCancelReject `9` of a replace -> REJECTED of the new token (of a cancel: counted, as
OUCH's cancel rejects are); a session- or business-level reject (`3`, `j`) of an order -> REJECTED.

The engine runs on the caller's thread, as the OUCH session does: `poll()` lets it read and answer what its
socket holds (reports, heartbeats, test requests, reconnects), so its callbacks never wait for the GIL held by
the trading loop; `enter` writes the message before it returns. Logon, heartbeats, test requests, logout,
resend requests and sequence resets are the engine's. An order is
never resent stale: a resend of one turns into a gap fill. Orders entered while the session is not logged on
are not sent and come back from the next `poll()` as REJECTED "not sent: ..." (as with OUCH). Fills are
counted once by ExecID, a possible duplicate of one seen is dropped and counted.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import quickfix as fix

from tickgate.protocol import fix as fixp
from tickgate.protocol.fix import Tag, price4, price_text

from .fix_session import FixSessionConfig, factories, first_session
from .types import OrderRequest, OrderUpdate, Side, UpdateKind

__all__ = ["FixGateway"]

COUNTERS = ("entered", "cancels_sent", "replaces_sent", "not_sent", "accepted", "rejected", "executed", "canceled",
            "replaced", "cancel_rejects", "session_rejects", "business_rejects", "duplicate_fills", "unknown_order",
            "other_exec_reports", "malformed", "logons", "logouts", "heartbeats_received", "resend_requests_sent",
            "resend_requests_received", "sequence_resets_received", "stale_not_resent", "poss_dup_received")
SENT_KEPT = 1 << 16  # sequence numbers of sent orders kept to name the order a session reject refers to
_ACCEPTED, _REJECTED = UpdateKind.ACCEPTED, UpdateKind.REJECTED
_EXECUTED, _CANCELED = UpdateKind.EXECUTED, UpdateKind.CANCELED
_SIDE = {"B": Side.BUY, "S": Side.SELL}
_now = time.perf_counter_ns


@dataclass(slots=True)
class _Order:
    symbol: str
    side: str  # FIX Side(54)
    price: int  # Price(4)
    qty: int
    leaves: int
    cl_ord_id: str
    tif: str  # the ClOrdID the exchange knows the order by now
    cum: int = 0  # CumQty: shares filled (FIX quantities in requests count them)
    requests: int = 0  # cancels and reductions sent (their ClOrdIDs are TOKEN.N)


def _get(msg: fix.Message, tag: int, default: str = "") -> str:
    return msg.getField(tag) if msg.isSetField(tag) else default


def _token(cl_ord_id: str) -> int | None:
    """The token a ClOrdID belongs to: 'T' (an order or a replacement) or 'T.N' (a cancel or reduction of T)."""
    head = cl_ord_id.partition(".")[0]
    return int(head) if head.isdigit() else None


class _App(fix.Application):
    """The engine's callbacks (within `poll`): admin traffic counted, application messages to the gateway."""

    def __init__(self, gateway: FixGateway) -> None:
        super().__init__()
        self.gw = gateway

    def onCreate(self, sid: fix.SessionID) -> None:
        pass

    def onLogon(self, sid: fix.SessionID) -> None:
        self.gw.counters["logons"] += 1
        session = fix.Session.lookupSession(sid)
        if session is not None:  # a reset (memory store) is for the first logon only: a reconnect resends the gap
            session.setResetOnLogon(False)
        self.gw.logged_on.set()

    def onLogout(self, sid: fix.SessionID) -> None:
        self.gw.counters["logouts"] += 1
        self.gw.logged_on.clear()

    def toAdmin(self, msg: fix.Message, sid: fix.SessionID) -> None:
        if msg.getHeader().getField(Tag.MSG_TYPE) == "2":
            self.gw.counters["resend_requests_sent"] += 1

    def fromAdmin(self, msg: fix.Message, sid: fix.SessionID) -> None:
        t = msg.getHeader().getField(Tag.MSG_TYPE)
        c = self.gw.counters
        if t == "0":
            c["heartbeats_received"] += 1
        elif t == "2":
            c["resend_requests_received"] += 1
        elif t == "4":
            c["sequence_resets_received"] += 1
        elif t == "3":
            try:
                self.gw._on_reject(msg, "session")
            except Exception:
                c["malformed"] += 1

    def toApp(self, msg: fix.Message, sid: fix.SessionID) -> None:
        header = msg.getHeader()
        if header.isSetField(Tag.POSS_DUP_FLAG) and header.getField(Tag.POSS_DUP_FLAG) == "Y":
            self.gw.counters["stale_not_resent"] += 1
            raise fix.DoNotSend()  # an order resent after a gap would be stale: the engine gap-fills instead

    def fromApp(self, msg: fix.Message, sid: fix.SessionID) -> None:
        try:
            self.gw._on_app(msg)
        except Exception:  # a field missing or unreadable: counted, never raised into the engine's thread
            self.gw.counters["malformed"] += 1


class FixGateway:
    """Orders to a FIX 4.4 exchange over one QuickFIX initiator session (`connect` makes and logs it on)."""

    def __init__(self, settings: fix.SessionSettings) -> None:
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.logged_on = threading.Event()
        self.last_cancel_reject = ""
        self.session_id = first_session(settings)
        self._orders: dict[int, _Order] = {}
        self._last_token = -1
        self._queue: deque[OrderUpdate] = deque()
        self._sent: dict[int, int] = {}  # MsgSeqNum of a sent D or G -> its token
        self._fills: set[str] = set()  # ExecIDs of the fills seen
        self._app = _App(self)
        self._new_order = fix.Message()  # the NewOrderSingle `enter` fills in (one object: no allocation per order)
        self._new_order.getHeader().setField(Tag.MSG_TYPE, "D")
        self._new_order.setField(Tag.ORD_TYPE, fixp.ORD_TYPE_LIMIT)
        store, log = factories(settings, self.session_id)
        self._factories = (store, log, settings)  # the engine keeps pointers to them: keep them alive
        self.initiator = fix.SocketInitiator(self._app, store, settings, log)
        self._engine = self.initiator.poll  # one step of the engine: never blocks
        self._engine()  # connects
        self.session = fix.Session.lookupSession(self.session_id)

    @classmethod
    def connect(cls, host: str, port: int, *, sender: str = "TICKGATE", target: str = "SIMEXCH",
                settings: fix.SessionSettings | None = None, store: Path | None = None, log: Path | None = None,
                heartbeat_s: int = 30, reset_on_logon: bool | None = None, timeout: float = 5.0) -> FixGateway:
        """A gateway logged on to HOST:PORT (what `settings`, a settings file's, leaves out comes from here)."""
        config = FixSessionConfig(sender, target, host, port, heartbeat_s=heartbeat_s, store=store, log=log,
                                  reset_on_logon=reset_on_logon)
        gw = cls(config.settings(settings))
        deadline = time.monotonic() + timeout
        while not gw.logged_on.is_set() and time.monotonic() < deadline:
            gw._engine()
            time.sleep(0.0005)
        if not gw.logged_on.is_set():
            gw.close()
            raise ConnectionError(f"FIX session {gw.session_id.toString()} to {host}:{port} did not log on "
                                  f"within {timeout} s")
        return gw

    # --- OrderGateway ---------------------------------------------------------------------------------------------

    def enter(self, order: OrderRequest) -> int:
        """Send NewOrderSingle; returns time.perf_counter_ns() after the write. Tokens must increase."""
        token = order.token
        if token <= self._last_token:
            raise ValueError(f"FIX ClOrdID (token) must increase: token {token} after {self._last_token}")
        self._last_token = token
        side = fixp.FIX_SIDE[order.side.value]
        cl = str(token)
        self._orders[token] = _Order(order.symbol, side, order.price, order.shares, order.shares, cl,
                                     order.time_in_force)
        msg = self._new_order  # every field but MsgType and OrdType is set anew; the engine serialises it in send
        msg.setField(Tag.CL_ORD_ID, cl)
        msg.setField(Tag.SYMBOL, order.symbol)
        msg.setField(Tag.SIDE, side)
        msg.setField(fix.TransactTime())
        msg.setField(Tag.ORDER_QTY, str(order.shares))
        msg.setField(Tag.PRICE, price_text(order.price))
        msg.setField(Tag.TIME_IN_FORCE, order.time_in_force)
        return self._send(msg, token, "entered", token)

    def cancel(self, token: int, shares: int = 0) -> int:
        """Cancel down to `shares`: OrderCancelRequest for all of it (0), else a reducing OrderCancelReplaceRequest."""
        o = self._orders.get(token)
        if o is None:
            raise KeyError(f"FIX cancel of token {token}, which this gateway never entered")
        o.requests += 1
        cl = f"{token}.{o.requests}"
        if shares:
            msg = self._replace_msg(o, cl, o.cum + shares, o.price, o.tif)
            return self._send(msg, token, "cancels_sent", None)
        msg = fix.Message()
        msg.getHeader().setField(Tag.MSG_TYPE, "F")
        msg.setField(Tag.ORIG_CL_ORD_ID, o.cl_ord_id)
        msg.setField(Tag.CL_ORD_ID, cl)
        msg.setField(Tag.SYMBOL, o.symbol)
        msg.setField(Tag.SIDE, o.side)
        msg.setField(fix.TransactTime())
        msg.setField(Tag.ORDER_QTY, str(o.qty))
        return self._send(msg, token, "cancels_sent", None)

    def replace(self, token: int, new_token: int, shares: int, price: int, time_in_force: str = "0") -> int:
        """OrderCancelReplaceRequest: `token` becomes `new_token` with `shares` at `price`; returns the send time."""
        o = self._orders.get(token)
        if o is None:
            raise KeyError(f"FIX replace of token {token}, which this gateway never entered")
        if new_token <= self._last_token:
            raise ValueError(f"FIX ClOrdID (token) must increase: token {new_token} after {self._last_token}")
        self._last_token = new_token
        cl = str(new_token)
        self._orders[new_token] = _Order(o.symbol, o.side, price, o.cum + shares, shares, cl, time_in_force, o.cum)
        msg = self._replace_msg(o, cl, o.cum + shares, price, time_in_force)
        return self._send(msg, new_token, "replaces_sent", new_token)

    def poll(self) -> list[OrderUpdate]:
        """Let the engine take what arrived, then the updates since the last call (never blocks)."""
        if self.initiator is not None:
            self._engine()
        q = self._queue
        if not q:
            return []
        out = []
        while q:
            out.append(q.popleft())
        return out

    def close(self, timeout: float = 1.0) -> None:
        """Log out (waiting up to `timeout` for the exchange's Logout) and stop the engine; its objects are freed,
        so the same session can be made again in this process."""
        if self.initiator is None:
            return
        if self.logged_on.is_set():
            msg = fix.Message()
            msg.getHeader().setField(Tag.MSG_TYPE, "5")
            self.session.send(msg)
            self.session.logout()  # disabled: the engine does not log on again
            deadline = time.monotonic() + timeout
            while self.logged_on.is_set() and time.monotonic() < deadline:
                self._engine()
                time.sleep(0.0005)
        self.initiator.stop(True)
        self.initiator = self.session = self._engine = None  # type: ignore[assignment]

    # --- sending --------------------------------------------------------------------------------------------------

    def _replace_msg(self, o: _Order, cl: str, qty: int, price: int, tif: str = "0") -> fix.Message:
        msg = fix.Message()
        msg.getHeader().setField(Tag.MSG_TYPE, "G")
        msg.setField(Tag.ORIG_CL_ORD_ID, o.cl_ord_id)
        msg.setField(Tag.CL_ORD_ID, cl)
        msg.setField(Tag.SYMBOL, o.symbol)
        msg.setField(Tag.SIDE, o.side)
        msg.setField(fix.TransactTime())
        msg.setField(Tag.ORDER_QTY, str(qty))
        msg.setField(Tag.ORD_TYPE, fixp.ORD_TYPE_LIMIT)
        msg.setField(Tag.PRICE, price_text(price))
        msg.setField(Tag.TIME_IN_FORCE, tif)
        return msg

    def _send(self, msg: fix.Message, token: int, counter: str, order: int | None) -> int:
        """Write `msg` if the session is logged on (else REJECTED "not sent" for `token`); the time after it."""
        if self.session is None or not self.session.isLoggedOn():
            return self._not_sent(token, "FIX session is not logged on")
        self.session.send(msg)
        t = _now()
        self.counters[counter] += 1
        if order is not None:
            sent = self._sent
            sent[int(msg.getHeader().getField(Tag.MSG_SEQ_NUM))] = order
            if len(sent) > SENT_KEPT:
                del sent[next(iter(sent))]
        return t

    def _not_sent(self, token: int, why: str) -> int:
        o = self._orders[token]
        self.counters["not_sent"] += 1
        now = _now()
        self._queue.append(OrderUpdate(_REJECTED, token, o.symbol, _SIDE[fixp.HOST_SIDE[o.side]],
                                       reason=f"not sent: {why}", ts_ns=now))
        return now

    # --- receiving (the engine's callbacks) --------------------------------------------------------------------------

    def _on_app(self, msg: fix.Message) -> None:
        header = msg.getHeader()
        if header.isSetField(Tag.POSS_DUP_FLAG) and header.getField(Tag.POSS_DUP_FLAG) == "Y":
            self.counters["poss_dup_received"] += 1
        t = header.getField(Tag.MSG_TYPE)
        if t == "8":
            update = self._execution_report(msg)
        elif t == "9":
            update = self._cancel_reject(msg)
        elif t == "j":
            update = self._on_reject(msg, "business")
        else:
            self.counters["malformed"] += 1
            return
        if update is not None:
            self._queue.append(update)

    def _execution_report(self, msg: fix.Message) -> OrderUpdate | None:
        c = self.counters
        now = _now()
        cl = msg.getField(Tag.CL_ORD_ID)
        token = _token(cl)
        o = self._orders.get(token) if token is not None else None
        if token is None:
            c["unknown_order"] += 1
            return None
        exec_type = msg.getField(Tag.EXEC_TYPE)
        symbol = msg.getField(Tag.SYMBOL)
        side = _SIDE[fixp.HOST_SIDE[msg.getField(Tag.SIDE)]]
        leaves = int(msg.getField(Tag.LEAVES_QTY))
        before = o.leaves if o is not None else 0
        if o is not None:
            o.leaves = leaves
            o.cum = int(_get(msg, Tag.CUM_QTY, "0"))
        if exec_type in ("F", "1", "2"):  # Trade (FIX 4.4); Partial fill, Fill (4.2)
            exec_id = msg.getField(Tag.EXEC_ID)
            if exec_id in self._fills:
                c["duplicate_fills"] += 1
                return None
            self._fills.add(exec_id)
            c["executed"] += 1
            return OrderUpdate(_EXECUTED, token, symbol, side, int(msg.getField(Tag.LAST_QTY)),
                               price4(msg.getField(Tag.LAST_PX)), "", now)
        if exec_type == "0":
            c["accepted"] += 1
            return OrderUpdate(_ACCEPTED, token, symbol, side, int(msg.getField(Tag.ORDER_QTY)),
                               price4(_get(msg, Tag.PRICE, "0")), "", now)
        if exec_type == "4" or exec_type == "C":
            c["canceled"] += 1
            qty = int(_get(msg, Tag.ORDER_QTY, "0"))
            shares = qty - int(msg.getField(Tag.CUM_QTY)) if qty else before
            text = _get(msg, Tag.TEXT, "expired" if exec_type == "C" else "canceled")
            return OrderUpdate(_CANCELED, token, symbol, side, shares, 0, text, now)
        if exec_type == "5":
            if "." in cl:  # a reduction: the shares it took off
                c["canceled"] += 1
                if o is not None:
                    o.cl_ord_id = cl
                return OrderUpdate(_CANCELED, token, symbol, side, max(before - leaves, 0), 0,
                                   _get(msg, Tag.TEXT, "User Requested"), now)
            c["replaced"] += 1
            if o is not None:
                o.cl_ord_id = cl
            orig = _get(msg, Tag.ORIG_CL_ORD_ID)
            return OrderUpdate(_ACCEPTED, token, symbol, side, leaves, price4(_get(msg, Tag.PRICE, "0")),
                               f"replaces {_token(orig) or orig}", now)
        if exec_type == "8":
            c["rejected"] += 1
            code = int(_get(msg, Tag.ORD_REJ_REASON, "99"))
            return OrderUpdate(_REJECTED, token, symbol, side, 0, 0,
                               fixp.reject_text(fixp.ORD_REJ_REASONS, code, _get(msg, Tag.TEXT)), now)
        c["other_exec_reports"] += 1  # pending cancel/replace, order status, done for day: nothing changed
        return None

    def _cancel_reject(self, msg: fix.Message) -> OrderUpdate | None:
        cl = msg.getField(Tag.CL_ORD_ID)
        token = _token(cl)
        reason = fixp.reject_text(fixp.CXL_REJ_REASONS, int(_get(msg, Tag.CXL_REJ_REASON, "99")), _get(msg, Tag.TEXT))
        o = self._orders.get(token) if token is not None else None
        if msg.getField(Tag.CXL_REJ_RESPONSE_TO) == "2" and "." not in cl and o is not None:
            self.counters["rejected"] += 1  # the replacement never lived: its token is rejected, as in OUCH
            return OrderUpdate(_REJECTED, token, o.symbol, _SIDE[fixp.HOST_SIDE[o.side]], 0, 0, reason, _now())
        self.counters["cancel_rejects"] += 1
        self.last_cancel_reject = f"{cl}: {reason}"
        return None

    def _on_reject(self, msg: fix.Message, level: str) -> OrderUpdate | None:
        """A session (`3`) or business (`j`) reject: REJECTED of the order it refers to, if it was one."""
        self.counters[f"{level}_rejects"] += 1
        ref = _get(msg, Tag.REF_SEQ_NUM)
        token = self._sent.pop(int(ref), None) if ref.isdigit() else None
        o = self._orders.get(token) if token is not None else None
        if o is None:
            return None
        update = OrderUpdate(_REJECTED, token, o.symbol, _SIDE[fixp.HOST_SIDE[o.side]], 0, 0,
                             f"{level} reject: {_get(msg, Tag.TEXT, 'no text')}", _now())
        if level == "session":  # from fromAdmin: queue it here
            self._queue.append(update)
            return None
        return update
