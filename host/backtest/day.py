"""One day of a backtest: the file's packets -> the software card -> the strategy -> risk -> the fill simulator.

The parts are the run loop's (`Directory`, `TopOfBook`, `Risk`, `OrderRouter`, the strategies), wired for
a replay that must give the same result every time: the card is fed packet by packet (events handed to
the strategy after each packet through the run loop's `EventRing`, the book applying them in bulk, as
`tickgate run` does on the software backend), the fill simulator stands where the exchange would be and
sees every packet first, and every clock is exchange time (risk's order rate, the loss check every
`LOSS_CHECK_NS`), never the wall's. `run_day` returns a `DayResult`:
one row of figures and the day's fills, plain data that pickles (it crosses Ray).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tickgate.host.backtest.fills import Fees, FillSimulator, Latency
from tickgate.host.market import R_MARK, Directory, TopOfBook
from tickgate.host.metrics import Metrics
from tickgate.host.orders.types import UpdateKind
from tickgate.host.risk import PRICE_SCALE, Risk, RiskLimits
from tickgate.host.run import SYNC_EVENTS, EventRing
from tickgate.host.strategy import load_strategy
from tickgate.host.strategy.orders import OrderRouter
from tickgate.protocol.config import CardConfig
from tickgate.protocol.moldudp64 import HEADER_LEN

__all__ = ["FILL_COLUMNS", "DayResult", "DaySpec", "run_day"]

LOSS_CHECK_NS = 1_000_000_000  # exchange time between P&L checks against max_loss
FILL_COLUMNS = ("ts_ns", "token", "symbol", "side", "shares", "price", "liquidity", "fee", "position", "equity")


@dataclass(frozen=True)
class DaySpec:
    """What to run on every day: strategy and parameters, limits, latencies, fees, symbols to track."""

    strategy: str = "imbalance"
    params: dict = field(default_factory=dict)
    limits: RiskLimits = field(default_factory=RiskLimits)
    latency: Latency = field(default_factory=Latency)
    fees: Fees = field(default_factory=Fees)
    card: CardConfig = field(default_factory=CardConfig)
    native_book: bool = True  # the fill simulator's book: native FeedBook, or the Python reference (tests)


@dataclass
class DayResult:
    """One day: `row` (figures; the same for the same inputs), `fills` (column -> list), `seconds` (wall) and
    `cpu_seconds` (this process's CPU time) the day took."""

    row: dict
    fills: dict[str, list]
    seconds: float
    messages: int
    cpu_seconds: float = 0.0


class _Books:
    """Positions, cash and fees per symbol as fills arrive; the running equity marked at each symbol's last
    fill price; the largest positions seen."""

    def __init__(self, fees: Fees) -> None:
        self.fees = fees
        self.position: dict[str, int] = {}
        self.cash: dict[str, int] = {}  # Price(4) * shares
        self.last_px: dict[str, int] = {}
        self.fee_total = 0.0
        self.value = 0  # sum of position * last fill price, Price(4)
        self.cash_total = 0
        self.max_position = 0
        self.max_gross = 0
        self.gross = 0
        self.notional = 0

    def fill(self, symbol: str, side: str, shares: int, price: int, fee: float) -> tuple[int, float]:
        signed = shares if side == "B" else -shares
        old = self.position.get(symbol, 0)
        new = old + signed
        self.value += new * price - old * self.last_px.get(symbol, price)
        self.position[symbol], self.last_px[symbol] = new, price
        self.cash[symbol] = self.cash.get(symbol, 0) - signed * price
        self.cash_total -= signed * price
        self.fee_total += fee
        self.notional += shares * price
        self.gross += abs(new) - abs(old)
        self.max_position = max(self.max_position, abs(new))
        self.max_gross = max(self.max_gross, self.gross)
        return new, (self.cash_total + self.value) / PRICE_SCALE - self.fee_total


def _open_card(config: CardConfig):
    from tickgate.host.backend import open_backend

    return open_backend("software", config, announce=None)


def run_day(path: str | Path, spec: DaySpec) -> DayResult:
    """Backtest `spec` on one day (a BinaryFILE, plain or .gz, or a pcap)."""
    from tickgate.host.feeds.sources import open_source

    t0, c0 = time.perf_counter(), time.process_time()
    backend = _open_card(spec.card)
    directory, book = Directory(), TopOfBook()
    sim = FillSimulator(spec.latency, spec.fees, locate_of=directory.by_symbol, native=spec.native_book)
    risk = Risk(spec.limits, clock=sim.clock)
    router = OrderRouter(sim, risk, directory, book, Metrics())
    strategy = load_strategy(spec.strategy, dict(spec.params))
    strategy.bind(router, book, directory)
    books = _Books(spec.fees)
    fills: dict[str, list] = {c: [] for c in FILL_COLUMNS}
    kills = exchange_rejects = 0
    ring = EventRing()
    book.buf, book.lo, book.hi = ring.buf, 0, 0  # the book reads the ring's unapplied tail, applies it in bulk

    def mark(symbol: str) -> int:
        loc = directory.locate(symbol)
        return book.mark(loc) if loc is not None else 0

    def deliver() -> None:
        nonlocal kills, exchange_rejects
        ups = router.pending
        if ups:
            router.pending = []
            for u in ups:
                strategy.on_order_update(u)
        for u in sim.poll():
            if u.kind is UpdateKind.REJECTED:
                exchange_rejects += 1
            elif u.kind is UpdateKind.EXECUTED:
                f = sim.fills[len(fills["ts_ns"])]
                position, equity = books.fill(f.symbol, f.side, f.shares, f.price, f.fee)
                for k, v in zip(FILL_COLUMNS, (f.ts_ns, f.token, f.symbol, f.side, f.shares, f.price,
                                               f.liquidity, f.fee, position, equity), strict=True):
                    fills[k].append(v)
            if risk.on_update(u):
                kills += 1
                router.cancel_all()
            strategy.on_order_update(u)

    packets = events = 0
    next_loss_check = 0
    strategy.on_start()
    for payload, _rx in open_source(str(path)):
        packets += 1
        sim.on_packet(payload)
        if payload.find(R_MARK, HEADER_LEN) >= 0:
            directory.scan(payload)
        if ring.needs_wrap():
            book.sync()
            ring.wrap()
            book.lo = book.hi = 0
        free = ring.free()
        n = backend.tick(payload, 0, free)
        while True:
            if n:
                batch = ring.push(n)
                book.hi = ring.pos
                strategy.on_events(batch)
                events += n
                if ring.pos - ring.applied >= SYNC_EVENTS:
                    book.sync()
                    ring.mark_applied()
            if n < len(free):
                break
            book.sync()  # the ring is full and the card has more
            ring.wrap()
            book.lo = book.hi = 0
            free = ring.free()
            n = backend.collect(free)
        if router.pending or sim.updates:
            deliver()
        if risk.position:
            now = sim.clock()
            if now >= next_loss_check:
                next_loss_check = now + LOSS_CHECK_NS
                if risk.check_loss(mark):
                    kills += 1
                    router.cancel_all()
    sim.finish()
    deliver()
    if risk.position and risk.check_loss(mark):
        kills += 1
    router.cancel_all()
    sim.finish()
    deliver()
    strategy.on_stop()
    marked = sum(p * mark(s) for s, p in books.position.items())
    pnl = (books.cash_total + marked) / PRICE_SCALE - books.fee_total
    counters = backend.counters()
    row = {
        "day": Path(path).name,
        "packets": packets,
        "messages": int(counters.get("messages", 0)),
        "events": events,
        "orders": router.orders,
        "entered": sim.entered,
        "cancels": router.cancels,
        "fills": len(fills["ts_ns"]),
        "filled_shares": sum(fills["shares"]),
        "taken_shares": sum(s for s, liq in zip(fills["shares"], fills["liquidity"], strict=True) if liq == "R"),
        "rejects": router.risk_rejects + exchange_rejects,
        "risk_rejects": router.risk_rejects,
        "exchange_rejects": exchange_rejects,
        "max_position": books.max_position,
        "max_gross_position": books.max_gross,
        "end_gross_position": books.gross,
        "notional": books.notional / PRICE_SCALE,
        "fees": round(books.fee_total, 6),
        "pnl": round(pnl, 6),
        "kills": kills,
        "killed": risk.killed,
    }
    return DayResult(row, fills, time.perf_counter() - t0, row["messages"], time.process_time() - c0)

