"""`OuchGateway`: the `OrderGateway` over OUCH 5.0 and a SoupBinTCP session.

enter -> Enter Order `O`, cancel -> Cancel Order `X`, replace -> Replace Order `U`; poll -> `OrderUpdate`s from
Order Accepted `A` (and Replaced `U`, as the new token's acceptance), Rejected `J` (with the OUCH reason),
Executed `E` and Canceled `C` (with the cancel reason). Orders entered while the session is down are not
sent: they come back from the next `poll()` as REJECTED with reason "not sent: ...".

Orders in flight when the link drops: after the session logs in again it gets every sequenced message it
missed (the server replays from the next sequence number), so an order the exchange received shows its
answer then. An order sent before the drop that still has no answer once the session has caught up
(`SoupBinClient.caught_up`) never reached the exchange: it comes back as REJECTED with reason
`LOST_IN_DROP` (counted `lost_in_drop`), and its token is spent: a retry is a new order under a new token, so
no order is lost silently or sent twice. A cancel sent before the drop that the exchange never received
(no Order Canceled for it in the replay, the order still open) is sent again once caught up (counted
`cancels_resent`); one that cannot be sent then stays pending for the next login (`cancels_not_resent`).
Re-sending is safe: a Cancel Order says how many shares to leave, so a second one changes nothing. Every outbound
message the gateway cannot use is counted in `counters` (system events, broken trades, unknown tokens,
malformed messages).
"""

from __future__ import annotations

import time

from tickgate.protocol import ouch

from .soupbin import SessionDownError, SoupBinClient
from .types import OrderRequest, OrderUpdate, Side, UpdateKind

__all__ = ["LOST_IN_DROP", "OuchGateway"]

COUNTERS = ("entered", "cancels_sent", "replaces_sent", "not_sent", "accepted", "rejected", "executed",
            "canceled", "replaced", "system_events", "broken_trades", "cancel_pending", "cancel_rejects",
            "unknown_token", "malformed", "lost_in_drop", "cancels_resent", "cancels_not_resent")
#: The reason of an order sent before a dropped link that the exchange never received.
LOST_IN_DROP = "lost: sent before the link dropped, never received by the exchange"
_ACCEPTED, _REJECTED = UpdateKind.ACCEPTED, UpdateKind.REJECTED
_EXECUTED, _CANCELED = UpdateKind.EXECUTED, UpdateKind.CANCELED


class OuchGateway:
    """Orders to an OUCH 5.0 exchange over `session` (a `SoupBinClient`, connected or not yet)."""

    def __init__(self, session: SoupBinClient, *, display: str = "Y", capacity: str = "A", firm: str = "") -> None:
        self.session = session
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.last_system_event = ""
        self._orders: dict[int, tuple[str, Side]] = {}  # token -> (symbol, side)
        self._last_token = -1
        self._local: list[OrderUpdate] = []
        self._answered: set[int] = set()  # tokens the exchange (or this gateway) has answered
        self._in_doubt: set[int] = set()  # tokens unanswered when the session logged in again
        self._cancels: dict[int, int] = {}  # token -> shares to leave, of each cancel sent and not yet answered
        self._left: dict[int, int] = {}  # token -> shares open at the exchange (from its answers)
        self._cancels_in_doubt = False  # cancels were pending when the session logged in again
        self._logins = 0
        self._appendage = ouch.encode_options({"firm": firm}) if firm else b""
        self._enter = ouch.encoder("O", "in", ("user_ref_num", "side", "quantity", "symbol", "price", "time_in_force",
                                               "cl_ord_id"), display=display, capacity=capacity,
                                   intermarket_sweep="N", cross_type="N")
        self._cancel = ouch.encoder("X", "in", ("user_ref_num", "quantity"))

    @classmethod
    def connect(cls, host: str, port: int, username: str, password: str, session: str = "", sequence: int = 1,
                *, timeout: float = 5.0, **options: float) -> OuchGateway:
        """A gateway on a new SoupBinTCP session, logged in (options go to `SoupBinClient`)."""
        return cls(SoupBinClient(host, port, username, password, session, sequence, **options).connect(timeout))

    # --- OrderGateway ---------------------------------------------------------------------------------------------

    def enter(self, order: OrderRequest) -> int:
        """Send Enter Order; returns time.perf_counter_ns() after the write. Tokens must increase."""
        token = order.token
        if token <= self._last_token:
            raise ValueError(f"OUCH UserRefNum must increase: token {token} after {self._last_token}")
        self._last_token = token
        self._orders[token] = (order.symbol, order.side)
        msg = self._enter(token, order.side.value, order.shares, order.symbol, order.price, order.time_in_force,
                          str(token))
        if self._appendage:
            msg = msg[:-2] + len(self._appendage).to_bytes(2, "big") + self._appendage
        try:
            t = self.session.send(msg)
        except SessionDownError as exc:
            return self._not_sent(token, str(exc))
        self.counters["entered"] += 1
        return t

    def cancel(self, token: int, shares: int = 0) -> int:
        """Send Cancel Order: reduce the order to `shares` (0 cancels it); returns the send time."""
        if token not in self._orders:
            raise KeyError(f"OUCH cancel of token {token}, which this gateway never entered")
        try:
            t = self.session.send(self._cancel(token, shares))
        except SessionDownError as exc:
            return self._not_sent(token, str(exc))
        self.counters["cancels_sent"] += 1
        self.cancel_sent(token, shares)
        return t

    def cancel_sent(self, token: int, shares: int) -> None:
        """A Cancel Order (leave `shares`) was written: it is pending until the exchange answers it."""
        self._cancels[token] = shares

    def replace(self, token: int, new_token: int, shares: int, price: int, time_in_force: str = "0") -> int:
        """Send Replace Order: `token` becomes `new_token` with `shares` at `price`; returns the send time."""
        if token not in self._orders:
            raise KeyError(f"OUCH replace of token {token}, which this gateway never entered")
        if new_token <= self._last_token:
            raise ValueError(f"OUCH UserRefNum must increase: token {new_token} after {self._last_token}")
        self._last_token = new_token
        self._orders[new_token] = self._orders[token]
        msg = ouch.encode("U", "in", orig_user_ref_num=token, user_ref_num=new_token, quantity=shares, price=price,
                          time_in_force=time_in_force, display="Y", intermarket_sweep="N", cl_ord_id=str(new_token))
        try:
            t = self.session.send(msg)
        except SessionDownError as exc:
            return self._not_sent(new_token, str(exc))
        self.counters["replaces_sent"] += 1
        return t

    def poll(self) -> list[OrderUpdate]:
        """Updates received since the last call (never blocks)."""
        session = self.session
        messages = session.poll()
        logins = session.counters.get("logins", 0)
        if logins != self._logins:
            if self._logins:  # logged in again after a drop: what was in flight is in doubt until caught up
                self._in_doubt |= {t for t in self._unanswered_tokens() if t not in self._answered}
                self._cancels_in_doubt = bool(self._cancels)
            self._logins = logins
        out, self._local = self._local, []
        if messages:
            now = time.perf_counter_ns()
            for msg in messages:
                try:
                    t, m = ouch.decode(msg, "out")
                except ouch.OuchError:
                    self.counters["malformed"] += 1
                    continue
                update = self._update(t, m, now)
                if update is not None:
                    out.append(update)
        if self._in_doubt and session.caught_up:
            out += self._lost()
        if self._cancels_in_doubt and session.caught_up:
            self._resend_cancels()
        return out

    def close(self) -> None:
        """Log out and close the session."""
        self.session.logout()

    # --- internals ------------------------------------------------------------------------------------------------

    def _unanswered_tokens(self) -> list[int]:
        """Tokens sent that may still be live at the exchange (those answered are filtered by the caller)."""
        return list(self._orders)

    def _lost(self) -> list[OrderUpdate]:
        """REJECTED (LOST_IN_DROP) for each in-doubt token still unanswered now that the session caught up."""
        now = time.perf_counter_ns()
        out = []
        for token in sorted(self._in_doubt - self._answered):
            known = self._order_of(token)
            if known is None:
                continue
            self._answered.add(token)
            self.counters["lost_in_drop"] += 1
            out.append(OrderUpdate(_REJECTED, token, known[0], known[1], reason=LOST_IN_DROP, ts_ns=now))
        self._in_doubt.clear()
        return out

    def _resend_cancels(self) -> None:
        """Send again each cancel still pending now that the replay is in: the exchange never received it."""
        self._cancels_in_doubt = False
        for token, shares in sorted(self._cancels.items()):
            if not self._still_open(token):
                del self._cancels[token]
            elif self._send_cancel_again(token, shares):
                self.counters["cancels_resent"] += 1
            else:
                self.counters["cancels_not_resent"] += 1
                self._cancels_in_doubt = True  # tried again after the next login

    def _still_open(self, token: int) -> bool:
        """The order may still have shares at the exchange (no answer yet, or some left)."""
        return token not in self._answered or self._left.get(token, 0) > 0

    def _send_cancel_again(self, token: int, shares: int) -> bool:
        try:
            self.session.send(self._cancel(token, shares))
        except SessionDownError:
            return False
        return True

    def _take(self, token: int, shares: int) -> None:
        """`shares` of the order are no longer open (executed, canceled); a pending cancel is answered once the
        order has no more than the shares it asked to leave."""
        left = self._left.get(token, 0) - shares
        if left > 0:
            self._left[token] = left
        else:
            self._left.pop(token, None)
        want = self._cancels.get(token)
        if want is not None and left <= want:
            del self._cancels[token]

    def _not_sent(self, token: int, why: str) -> int:
        symbol, side = self._orders[token]
        self._answered.add(token)
        self.counters["not_sent"] += 1
        now = time.perf_counter_ns()
        self._local.append(OrderUpdate(_REJECTED, token, symbol, side, reason=f"not sent: {why}", ts_ns=now))
        return now

    def _order_of(self, token: int) -> tuple[str, Side] | None:
        """(symbol, side) of a token this gateway sent."""
        return self._orders.get(token)

    def _update(self, t: str, m: dict, now: int) -> OrderUpdate | None:
        c = self.counters
        if t == "S":
            c["system_events"] += 1
            self.last_system_event = m["event_code"]
            return None
        if t == "B":
            c["broken_trades"] += 1
            return None
        if t == "P" or t == "I":
            c["cancel_pending" if t == "P" else "cancel_rejects"] += 1
            return None
        token = m["user_ref_num"]
        known = self._order_of(token)
        if known is None:
            c["unknown_token"] += 1
            return None
        symbol, side = known
        self._answered.add(token)
        if t == "E":
            c["executed"] += 1
            self._take(token, m["quantity"])
            return OrderUpdate(_EXECUTED, token, symbol, side, m["quantity"], m["price"], "", now)
        if t == "A":
            c["accepted"] += 1
            self._left[token] = m["quantity"]
            return OrderUpdate(_ACCEPTED, token, symbol, side, m["quantity"], m["price"], "", now)
        if t == "C":
            c["canceled"] += 1
            self._take(token, m["quantity"])
            reason = ouch.CANCEL_REASONS.get(m["reason"], f"reason {m['reason']!r}")
            return OrderUpdate(_CANCELED, token, symbol, side, m["quantity"], 0, reason, now)
        if t == "J":
            c["rejected"] += 1
            self._take(token, self._left.get(token, 0))
            return OrderUpdate(_REJECTED, token, symbol, side, 0, 0, ouch.reject_reason_text(m["reason"]), now)
        if t == "U":
            c["replaced"] += 1
            self._left[token] = m["quantity"]
            orig = m["orig_user_ref_num"]
            self._take(orig, self._left.get(orig, 0))
            return OrderUpdate(_ACCEPTED, token, symbol, side, m["quantity"], m["price"],
                               f"replaces {m['orig_user_ref_num']}", now)
        c["malformed"] += 1  # pragma: no cover - every outbound type is handled above
        return None
