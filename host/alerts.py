"""Alerts: thresholds on the host's metrics, raised and cleared as the run goes, and the Prometheus rules of the
same thresholds.

A threshold is `METRIC=LIMIT`, crossed while the metric is above the limit:

- `<latency>_p50_us`, `_p90_us`, `_p99_us`, `_p99_9_us`: a latency percentile of `metrics.LATENCIES`, in µs
  (`tick_to_order_p99_us=50`);
- any other name: a counter of the run, as `/metrics` exports it without `tickgate_` and `_total`
  (`fanout_dropped=0`, `kills=0`, `shm_readers=...`).

`--alert METRIC=LIMIT` (repeatable) and `--alerts FILE` (TOML: a `[thresholds]` table of `METRIC = LIMIT`) set
them. `Alerts.check()` (the run loop calls it every `CHECK_S`, off the tick) compares each metric with its limit;
a crossing and a clearing each log a line (logger `tickgate.alerts`), count under `alerts_raised` /
`alerts_cleared` and show in the Prometheus series `tickgate_alert_active{alert=...}` (1 while crossed),
`tickgate_alert_value{alert=...}` and `tickgate_alert_raised_total{alert=...}`. `render_rules` gives the
Prometheus alerting rules of the same thresholds on the exported series (`tickgate alerts rules`), so a
Prometheus server alerts on what the host alerts on.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tickgate.host.metrics import LATENCIES, Metrics

__all__ = ["CHECK_S", "QUANTILES", "Alerts", "Threshold", "load_thresholds", "merge", "parse_threshold", "render_rules",
           "thresholds_of_args"]

CHECK_S = 1.0  # seconds between checks in the run loop
QUANTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99_9": 99.9}  # the exporter's quantiles
_LATENCY = re.compile(r"^(?P<name>[a-z_]+)_(?P<q>p50|p90|p99|p99_9)_us$")
_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
log = logging.getLogger("tickgate.alerts")


@dataclass(frozen=True)
class Threshold:
    """One alert: `metric` above `limit`."""

    metric: str
    limit: float

    def __post_init__(self) -> None:
        if not _NAME.match(self.metric):
            raise ValueError(f"alert metric must be a metric name (letters, digits, '_'), not {self.metric!r}")
        m = _LATENCY.match(self.metric)
        if m and m["name"] not in LATENCIES:
            raise ValueError(f"alert {self.metric}: no latency {m['name']!r} (latencies: {', '.join(LATENCIES)})")

    @property
    def latency(self) -> tuple[str, float] | None:
        """(latency name, percentile) for a latency threshold, else None (a counter)."""
        m = _LATENCY.match(self.metric)
        return (m["name"], QUANTILES[m["q"]]) if m else None

    def value(self, metrics: Metrics, counters: dict[str, int]) -> float | None:
        """The metric now (µs for a latency); None while it has no samples or the counter does not exist yet."""
        lat = self.latency
        if lat is None:
            v = counters.get(self.metric)
            return None if v is None else float(v)
        p = metrics.latency[lat[0]].percentiles((lat[1],))
        return p[f"p{lat[1]:g}"] / 1000.0 if p["count"] else None

    def promql(self) -> str:
        """The same condition on the series `/metrics` exports."""
        lat = self.latency
        if lat is None:
            return f"tickgate_{self.metric}_total > {self.limit:g}"
        return f'tickgate_latency_{lat[0]}_seconds{{quantile="{lat[1] / 100:g}"}} * 1e6 > {self.limit:g}'


def parse_threshold(spec: str) -> Threshold:
    """`METRIC=LIMIT` -> Threshold."""
    metric, sep, limit = spec.partition("=")
    if not sep:
        raise ValueError(f"--alert {spec!r}: expected METRIC=LIMIT, e.g. tick_to_order_p99_us=50")
    try:
        value = float(limit)
    except ValueError:
        raise ValueError(f"--alert {spec!r}: the limit must be a number, not {limit.strip()!r}") from None
    return Threshold(metric.strip(), value)


def load_thresholds(path: str | Path) -> list[Threshold]:
    """The `[thresholds]` table of a TOML file."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    table = doc.get("thresholds")
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{path}: expected a [thresholds] table of METRIC = LIMIT")
    out = []
    for metric, limit in table.items():
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            raise ValueError(f"{path}: threshold {metric} must be a number, not {limit!r}")
        out.append(Threshold(metric, float(limit)))
    return out


def thresholds_of_args(args: object) -> list[Threshold]:
    """The thresholds of the `--alerts FILE` and `--alert METRIC=LIMIT` options (the flags over the file's)."""
    from_file = load_thresholds(args.alerts) if getattr(args, "alerts", None) else []
    return merge(from_file, [parse_threshold(s) for s in getattr(args, "alert", None) or []])


def merge(file_thresholds: Iterable[Threshold], flags: Iterable[Threshold]) -> list[Threshold]:
    """The file's thresholds with the flags' over them (a flag replaces the file's limit of the same metric)."""
    by_metric = {t.metric: t for t in file_thresholds}
    by_metric.update({t.metric: t for t in flags})
    return list(by_metric.values())


class Alerts:
    """The thresholds of a run over its metrics: `check()` raises and clears them."""

    def __init__(self, thresholds: Iterable[Threshold], metrics: Metrics) -> None:
        self.thresholds = list(thresholds)
        self.metrics = metrics
        self.active = {t.metric: False for t in self.thresholds}
        self.values: dict[str, float] = {}
        self.raised = {t.metric: 0 for t in self.thresholds}
        self.raised_total = self.cleared_total = 0
        metrics.counters.update(alerts_raised=0, alerts_cleared=0)
        metrics.series.append(self.series)

    def check(self) -> list[str]:
        """Compare every metric with its limit; the log lines of what was raised or cleared."""
        counters = self.metrics.all_counters()
        lines = []
        for t in self.thresholds:
            v = t.value(self.metrics, counters)
            if v is None:
                continue
            self.values[t.metric] = v
            crossed = v > t.limit
            if crossed == self.active[t.metric]:
                continue
            self.active[t.metric] = crossed
            if crossed:
                self.raised[t.metric] += 1
                self.raised_total += 1
                line = f"alert raised: {t.metric} = {v:g} > {t.limit:g}"
                log.warning(line)
            else:
                self.cleared_total += 1
                line = f"alert cleared: {t.metric} = {v:g} <= {t.limit:g}"
                log.info(line)
            lines.append(line)
        self.metrics.counters.update(alerts_raised=self.raised_total, alerts_cleared=self.cleared_total)
        return lines

    def series(self) -> list[str]:
        """The Prometheus series of the alerts (for `Metrics.prometheus`)."""
        out = ["# HELP tickgate_alert_active 1 while the alert's metric is above its threshold",
               "# TYPE tickgate_alert_active gauge"]
        out += [f'tickgate_alert_active{{alert="{t.metric}",threshold="{t.limit:g}"}} {int(self.active[t.metric])}'
                for t in self.thresholds]
        out += ["# HELP tickgate_alert_value the alert's metric at the last check (µs for latencies)",
                "# TYPE tickgate_alert_value gauge"]
        out += [f'tickgate_alert_value{{alert="{t.metric}"}} {self.values.get(t.metric, 0.0):g}'
                for t in self.thresholds]
        out += ["# HELP tickgate_alert_raised_total times the alert was raised",
                "# TYPE tickgate_alert_raised_total counter"]
        out += [f'tickgate_alert_raised_total{{alert="{t.metric}"}} {self.raised[t.metric]}' for t in self.thresholds]
        return out


def render_rules(thresholds: Iterable[Threshold], *, for_s: int = 0) -> str:
    """Prometheus alerting rules (YAML) of the thresholds, one rule per threshold, in the order given."""
    lines = ["# Generated by `tickgate alerts rules` from the host's alert thresholds: do not edit, regenerate.",
             "groups:", "  - name: tickgate", "    rules:"]
    for t in thresholds:
        name = "Tickgate" + "".join(part.capitalize() for part in t.metric.split("_"))
        lines += [f"      - alert: {name}", f"        expr: '{t.promql()}'"]
        if for_s:
            lines.append(f"        for: {for_s}s")
        lines += ["        labels:", "          severity: warning", f"          metric: {t.metric}",
                  f'          threshold: "{t.limit:g}"', "        annotations:",
                  f"          summary: 'tickgate {t.metric} above {t.limit:g}'"]
    return "\n".join(lines) + "\n"
