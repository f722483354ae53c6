"""What a run reports and how it is steered: the control-socket commands, status, the summary.

`RunControl` is the half of `tickgate.host.run.Runner` that reads the run's state (risk, router, metrics,
backend, feed) and acts on it from outside the loop; the loop itself is in `run.py`.
"""

from __future__ import annotations

from tickgate.host.risk import RiskLimits

__all__ = ["RunControl"]


class RunControl:
    """Control commands, status and summary of a `Runner` (which holds the attributes used here)."""

    # -- control ----------------------------------------------------------------------------------------

    def kill(self, reason: str) -> int:
        """Throw the kill switch and cancel every open order; orders canceled."""
        if self.risk.kill(reason):
            self.kills += 1
        return self.router.cancel_all()

    def handle(self, req: dict) -> dict:
        """Answer one control request (see `tickgate.host.control`)."""
        cmd = req["cmd"]
        if cmd == "status":
            return self.status()
        if cmd == "kill":
            return {"killed": req.get("reason") or "control", "canceled": self.kill(req.get("reason") or "control")}
        if cmd == "reset":
            self.risk.reset_kill()
            return {"killed": ""}
        if cmd == "reload":
            if "limits" in req:
                limits = RiskLimits.from_dict(self.risk.limits.as_dict() | dict(req["limits"]))
            elif self.opt.limits_path:
                limits = RiskLimits.from_file(self.opt.limits_path)
            else:
                raise ValueError("reload: no limits given and the run has no --limits file")
            self.risk.set_limits(limits)
            return {"limits": limits.as_dict()}
        if cmd == "stop":
            self._stop = True
            stop_feed = getattr(self.feed, "stop", None)  # a live feed may be waiting for packets
            if stop_feed is not None:
                stop_feed()
            return {"stopping": True}
        raise ValueError(f"unknown command {cmd!r}: status, kill, reset, reload, stop")

    def _mark(self, symbol: str) -> int:
        """The symbol's mark: its last two-sided mid (0 if it never had one)."""
        loc = self.directory.locate(symbol)
        return self.book.mark(loc) if loc is not None else 0

    def status(self) -> dict:
        s = self.summary(final=False)
        return {k: s[k] for k in ("packets", "events", "orders", "cancels", "fills", "rejects", "reject_reasons",
                                  "positions", "pnl", "killed", "open_orders")} | {"limits": self.risk.limits.as_dict()}

    # -- the loop ---------------------------------------------------------------------------------------------

    def _counters(self) -> dict[str, int]:
        c = {k: v for k, v in self.backend.counters().items() if v}
        stats = getattr(self.feed, "stats", None)
        if stats:
            c.update({k: v for k, v in stats().items() if v})
        if self.publisher:
            c.update(self.publisher.stats())
        if self.control:
            c["control_requests"] = self.control.requests
            c["control_bad_requests"] = self.control.bad_requests
        c["directory_symbols"] = len(self.directory)
        return c

    def summary(self, final: bool = True) -> dict:
        """Everything the run did, as one JSON-able dict."""
        self.metrics.counters.update({"packets": self.packets, "events": self.events, "kills": self.kills})
        risk, router = self.risk, self.router
        positions = {s: p for s, p in risk.position.items() if p}
        out = {
            "backend": self.backend.name,
            "strategy": self.strategy.name,
            "packets": self.packets,
            "events": self.events,
            "seconds": round(self.seconds, 6),
            "events_per_s": round(self.events / self.seconds, 1) if self.seconds > 0 else 0.0,
            "orders": router.orders,
            "cancels": router.cancels,
            "fills": risk.fills,
            "filled_shares": risk.filled_shares,
            "rejects": router.risk_rejects + self.exchange_rejects,
            "risk_rejects": router.risk_rejects,
            "exchange_rejects": self.exchange_rejects,
            "reject_reasons": dict(sorted(risk.rejects.items())),
            "positions": positions,
            "gross_position": risk.gross_position,
            "symbols_held": len(positions),
            "open_orders": len(risk.open),
            "pnl": round(risk.pnl(self._mark), 2),
            "killed": risk.killed,
            "interrupted": self.interrupted,
            "latency_us": self.metrics.latency_us(),
        }
        if final:
            out["counters"] = self.metrics.all_counters()
        return out
