"""What a run reports and how it is steered from outside its loop: the control-socket commands, status, the
summary. `RunControl` is given what it reads (risk, router, market, metrics and the loop's `RunState`); the
loop itself is in `run.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tickgate.host.market import Directory, TopOfBook
from tickgate.host.metrics import Metrics
from tickgate.host.risk import Risk, RiskLimits
from tickgate.host.strategy.orders import OrderRouter

__all__ = ["RunControl", "RunState"]


@dataclass
class RunState:
    """What the loop counts and what steers it (written by the loop; read here)."""

    packets: int = 0
    events: int = 0
    kills: int = 0
    exchange_rejects: int = 0
    seconds: float = 0.0
    interrupted: bool = False  # Ctrl-C
    stop: bool = False  # asked to stop (control socket)


class RunControl:
    """Control commands, status and summary of a run."""

    def __init__(self, state: RunState, risk: Risk, router: OrderRouter, directory: Directory, book: TopOfBook,
                 metrics: Metrics, *, backend: str, strategy: str, limits_path: str | None = None,
                 stop_feed: Callable[[], None] | None = None) -> None:
        self.state, self.risk, self.router = state, risk, router
        self.directory, self.book, self.metrics = directory, book, metrics
        self.backend, self.strategy = backend, strategy
        self.limits_path = limits_path
        self.stop_feed = stop_feed  # wakes a live feed waiting for packets

    def kill(self, reason: str) -> int:
        """Throw the kill switch and cancel every open order; orders canceled."""
        if self.risk.kill(reason):
            self.state.kills += 1
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
            elif self.limits_path:
                limits = RiskLimits.from_file(self.limits_path)
            else:
                raise ValueError("reload: no limits given and the run has no --limits file")
            self.risk.set_limits(limits)
            return {"limits": limits.as_dict()}
        if cmd == "stop":
            self.state.stop = True
            if self.stop_feed is not None:
                self.stop_feed()
            return {"stopping": True}
        raise ValueError(f"unknown command {cmd!r}: status, kill, reset, reload, stop")

    def mark(self, symbol: str) -> int:
        """The symbol's mark: its last two-sided mid (0 if it never had one)."""
        loc = self.directory.locate(symbol)
        return self.book.mark(loc) if loc is not None else 0

    def status(self) -> dict:
        s = self.summary(final=False)
        return {k: s[k] for k in ("packets", "events", "orders", "cancels", "fills", "rejects", "reject_reasons",
                                  "positions", "pnl", "killed", "open_orders")} | {"limits": self.risk.limits.as_dict()}

    def summary(self, final: bool = True) -> dict:
        """Everything the run did, as one JSON-able dict."""
        st = self.state
        self.metrics.counters.update({"packets": st.packets, "events": st.events, "kills": st.kills})
        risk, router = self.risk, self.router
        positions = {s: p for s, p in risk.position.items() if p}
        out = {
            "backend": self.backend,
            "strategy": self.strategy,
            "packets": st.packets,
            "events": st.events,
            "seconds": round(st.seconds, 6),
            "events_per_s": round(st.events / st.seconds, 1) if st.seconds > 0 else 0.0,
            "orders": router.orders,
            "cancels": router.cancels,
            "fills": risk.fills,
            "filled_shares": risk.filled_shares,
            "rejects": router.risk_rejects + st.exchange_rejects,
            "risk_rejects": router.risk_rejects,
            "exchange_rejects": st.exchange_rejects,
            "reject_reasons": dict(sorted(risk.rejects.items())),
            "positions": positions,
            "gross_position": risk.gross_position,
            "symbols_held": len(positions),
            "open_orders": len(risk.open),
            "pnl": round(risk.pnl(self.mark), 2),
            "killed": risk.killed,
            "interrupted": st.interrupted,
            "latency_us": self.metrics.latency_us(),
        }
        if final:
            out["counters"] = self.metrics.all_counters()
        return out
