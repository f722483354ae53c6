"""Host metrics: latency histograms, counters, a Prometheus text endpoint, the end-of-run table, a plot.

Latencies are nanoseconds of `time.perf_counter_ns()`. The hot path only writes samples into a
preallocated ring (`LatencyRecorder.add`/`add_many`, no allocation); the ring is folded into a
log-linear histogram (64 sub-buckets per power of two, at most 1.6 % wide) when it fills and whenever
percentiles are asked for.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["LATENCIES", "LatencyRecorder", "Metrics", "PrometheusServer", "plot_latencies", "summary_table"]

SUB_BITS = 6  # 64 sub-buckets per power of two
_SUB = 1 << SUB_BITS
N_BUCKETS = 60 * _SUB  # covers every int64 ns

# name -> what it measures (all from packet receive on the host unless said otherwise)
LATENCIES: dict[str, str] = {
    "feed_to_event": "packet received -> its events taken from the backend",
    "tick_to_strategy": "packet received -> the strategy callback given its events",
    "tick_to_decision": "packet received -> the strategy asking for an order",
    "strategy_to_order": "order asked for by the strategy -> its bytes written to the gateway socket",
    "tick_to_order": "packet received -> order bytes written (tick to trade)",
    "tick_to_order_armed": "packet received -> fired order bytes written (armed rules)",
}


def bucket_of(values: np.ndarray) -> np.ndarray:
    """Histogram bucket of each latency (ns; negatives count as 0): exact below 128, then 64 per octave."""
    v = np.maximum(values.astype(np.int64, copy=False), 0)
    _, bits = np.frexp(v.astype(np.float64))  # bit length (exact below 2**53 ns)
    shift = np.maximum(bits - (SUB_BITS + 1), 0)
    return shift * _SUB + (v >> shift)


def bucket_upper(index: np.ndarray | int) -> np.ndarray:
    """Largest latency (ns) that falls in each bucket."""
    i = np.asarray(index, dtype=np.int64)
    shift = np.maximum(i // _SUB - 1, 0)
    return np.where(i < 2 * _SUB, i, ((i - shift * _SUB + 1) << shift) - 1)


class LatencyRecorder:
    """Latency samples of one kind: a ring written on the hot path, folded into a histogram."""

    def __init__(self, name: str, capacity: int = 1 << 16) -> None:
        self.name = name
        self.ring = np.zeros(capacity, dtype=np.int64)
        self.n = 0  # samples in the ring
        self.hist = np.zeros(N_BUCKETS, dtype=np.int64)
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0

    def add(self, ns: int) -> None:
        """One sample."""
        if self.n == len(self.ring):
            self.fold()
        self.ring[self.n] = ns
        self.n += 1

    def add_n(self, ns: int, n: int) -> None:
        """`n` samples of the same value (the events of one packet share its receive time)."""
        while n:
            if self.n == len(self.ring):
                self.fold()
            take = min(n, len(self.ring) - self.n)
            self.ring[self.n:self.n + take] = ns
            self.n += take
            n -= take

    def add_many(self, t_ns: int, since_ns: np.ndarray) -> None:
        """Samples `t_ns - since_ns[i]` for every i (written straight into the ring)."""
        k = len(since_ns)
        pos = 0
        while pos < k:
            if self.n == len(self.ring):
                self.fold()
            take = min(k - pos, len(self.ring) - self.n)
            dst = self.ring[self.n:self.n + take]
            np.subtract(t_ns, since_ns[pos:pos + take], out=dst, casting="unsafe")
            self.n += take
            pos += take

    def fold(self) -> None:
        """Move the ring's samples into the histogram."""
        if self.n:
            s = self.ring[: self.n]
            self.hist += np.bincount(bucket_of(s), minlength=N_BUCKETS)[:N_BUCKETS]
            self.count += self.n
            self.total_ns += int(s.sum())
            self.max_ns = max(self.max_ns, int(s.max()))
            self.n = 0

    def snapshot(self) -> tuple[np.ndarray, int, int, int]:
        """(histogram, count, total ns, max ns) including the ring, without folding (safe from a thread)."""
        s = self.ring[: self.n].copy()
        hist = self.hist.copy()
        if len(s):
            hist += np.bincount(bucket_of(s), minlength=N_BUCKETS)[:N_BUCKETS]
        return hist, self.count + len(s), self.total_ns + int(s.sum()), max(self.max_ns, int(s.max()) if len(s)
                                                                             else 0)

    def percentiles(self, qs: tuple[float, ...] = (50, 90, 99, 99.9)) -> dict[str, float]:
        """Percentiles in ns (bucket upper bounds), with `count`, `mean` and `max`."""
        hist, count, total, mx = self.snapshot()
        out: dict[str, float] = {"count": count}
        if not count:
            return out | {f"p{q:g}": 0.0 for q in qs} | {"mean": 0.0, "max": 0.0}
        cum = np.cumsum(hist)
        for q in qs:
            idx = int(np.searchsorted(cum, q / 100.0 * count, side="left"))
            out[f"p{q:g}"] = float(min(bucket_upper(idx), mx))
        out["mean"] = total / count
        out["max"] = float(mx)
        return out


class Metrics:
    """Every latency recorder and counter of a run."""

    def __init__(self) -> None:
        self.latency = {name: LatencyRecorder(name) for name in LATENCIES}
        self.counters: dict[str, int] = {}
        self.gauges: dict[str, float] = {}
        self.sources: list[Callable[[], dict[str, int]]] = []  # more counters, read at report time
        self.series: list[Callable[[], list[str]]] = []  # more Prometheus lines (labelled series: alerts)

    def all_counters(self) -> dict[str, int]:
        out = dict(self.counters)
        for src in self.sources:
            out.update(src())
        return out

    def latency_us(self) -> dict[str, dict[str, float]]:
        """Each latency's p50/p90/p99/p99.9/mean/max in microseconds, and its sample count."""
        out = {}
        for name, rec in self.latency.items():
            p = rec.percentiles()
            out[name] = {k: (round(v / 1000.0, 3) if k != "count" else int(v)) for k, v in p.items()}
        return out

    def prometheus(self) -> str:
        """The Prometheus text exposition of every counter, gauge and latency summary."""
        lines = []
        for k, v in sorted(self.all_counters().items()):
            name = f"tickgate_{k}_total"
            lines += [f"# TYPE {name} counter", f"{name} {int(v)}"]
        for k, v in sorted(self.gauges.items()):
            name = f"tickgate_{k}"
            lines += [f"# TYPE {name} gauge", f"{name} {v}"]
        for name, rec in self.latency.items():
            p = rec.percentiles((50, 90, 99, 99.9))
            metric = f"tickgate_latency_{name}_seconds"
            lines.append(f"# HELP {metric} {LATENCIES[name]}")
            lines.append(f"# TYPE {metric} summary")
            for q in (50, 90, 99, 99.9):
                lines.append(f'{metric}{{quantile="{q / 100:g}"}} {p[f"p{q:g}"] / 1e9:.9f}')
            lines.append(f"{metric}_sum {p['mean'] * p['count'] / 1e9:.9f}")
            lines.append(f"{metric}_count {int(p['count'])}")
        for more in self.series:
            lines += more()
        return "\n".join(lines) + "\n"


class PrometheusServer:
    """`GET /metrics` on host:port (127.0.0.1 by default; port 0 picks one), served from a daemon thread."""

    def __init__(self, metrics: Metrics, port: int = 0, host: str = "127.0.0.1") -> None:
        m = metrics

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] not in ("/metrics", "/"):
                    self.send_error(404)
                    return
                body = m.prometheus().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, name="prometheus", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def summary_table(summary: dict) -> str:
    """The end-of-run table: flow, orders, P&L, latency percentiles (µs)."""
    rows = [
        ("backend", summary.get("backend", "")),
        ("strategy", summary.get("strategy", "")),
        ("packets", f"{summary.get('packets', 0):,}"),
        ("events", f"{summary.get('events', 0):,}"),
        ("seconds", f"{summary.get('seconds', 0):.3f}"),
        ("events/s", f"{summary.get('events_per_s', 0):,.0f}"),
        ("orders", f"{summary.get('orders', 0):,}"),
        ("cancels", f"{summary.get('cancels', 0):,}"),
        ("fills", f"{summary.get('fills', 0):,}  ({summary.get('filled_shares', 0):,} shares)"),
        ("rejects", f"{summary.get('rejects', 0):,}  " + ", ".join(
            f"{k}: {v}" for k, v in summary.get("reject_reasons", {}).items())),
        ("position", f"{summary.get('gross_position', 0):,} shares gross over "
                     f"{summary.get('symbols_held', 0)} symbols"),
        ("pnl", f"{summary.get('pnl', 0.0):,.2f}  (realised+unrealised, marked at the last BBO mid)"),
        ("kill switch", summary.get("killed") or "off"),
    ]
    w = max(len(k) for k, _ in rows)
    lines = [f"{k:<{w}}  {v}" for k, v in rows]
    lat = summary.get("latency_us", {})
    if lat:
        lines.append(f"{'latency (us)':<{w + 16}} {'p50':>9} {'p90':>9} {'p99':>9} {'p99.9':>9} {'max':>9} "
                     f"{'samples':>10}")
        for name, p in lat.items():
            if p.get("count"):
                lines.append(f"  {name:<{w + 14}} {p['p50']:>9.2f} {p['p90']:>9.2f} {p['p99']:>9.2f} "
                             f"{p['p99.9']:>9.2f} {p['max']:>9.2f} {p['count']:>10,}")
    counters = summary.get("counters", {})
    if counters:
        lines.append("counters:")
        cw = max(len(k) for k in counters)
        lines += [f"  {k:<{cw}}  {v:>14,}" for k, v in counters.items()]
    return "\n".join(lines)


def plot_latencies(metrics: Metrics, path: str | Path) -> None:
    """A PNG of each latency's distribution (log-scaled µs, from the histograms)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    for name, rec in metrics.latency.items():
        hist, count, _, _ = rec.snapshot()
        if not count:
            continue
        idx = np.nonzero(hist)[0]
        upper = bucket_upper(idx) / 1000.0
        cum = np.cumsum(hist[idx]) / count
        ax.step(upper, cum, where="post", label=f"{name} ({count:,})")
    ax.set_xscale("log")
    ax.set_xlabel("latency (µs)")
    ax.set_ylabel("fraction of samples at or below")
    ax.set_title("tickgate run: latency distributions")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
