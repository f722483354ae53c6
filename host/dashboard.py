"""The Grafana dashboard of every metric the host exports (`tickgate alerts dashboard`; shipped as
ops/grafana/tickgate.json).

Panels name the series of `host.metrics.Metrics.prometheus`: each latency summary (its four quantiles, in µs),
the run's flow counters, the alerts' series, the fan-out and shared-memory ring counters; every other counter
(the card's, the feed's: which exist depends on the backend and feed) is in the table of all
`tickgate_*_total` series. The datasource is a template variable (`${datasource}`), chosen on import.
"""

from __future__ import annotations

from typing import Any

from tickgate.host.alerts import QUANTILES
from tickgate.host.metrics import LATENCIES

__all__ = ["ALL_COUNTERS", "FLOW_COUNTERS", "PUBLISH_COUNTERS", "render_dashboard"]

FLOW_COUNTERS = ("packets", "events", "messages", "directory_symbols", "kills")
PUBLISH_COUNTERS = ("fanout_published", "fanout_dropped", "shm_published")
ALERT_SERIES = ("tickgate_alert_active", "tickgate_alert_value", "tickgate_alert_raised_total",
                "tickgate_alerts_raised_total", "tickgate_alerts_cleared_total")
ALL_COUNTERS = '{__name__=~"tickgate_.+_total"}'  # the catch-all table's selector
_DS = {"type": "prometheus", "uid": "${datasource}"}


def _panel(pid: int, title: str, targets: list[tuple[str, str]], *, x: int, y: int, unit: str = "short",
           kind: str = "timeseries", w: int = 12, h: int = 8) -> dict[str, Any]:
    return {
        "id": pid, "type": kind, "title": title, "datasource": _DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "datasource": _DS, "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)],
    }


def render_dashboard() -> dict[str, Any]:
    """The dashboard as a JSON-able dict (the same on every call)."""
    panels: list[dict[str, Any]] = []
    pos = 0

    def add(title: str, targets: list[tuple[str, str]], **kw: Any) -> None:
        nonlocal pos
        kw.setdefault("x", 12 * (pos % 2))
        kw.setdefault("y", 8 * (pos // 2))
        panels.append(_panel(len(panels) + 1, title, targets, **kw))
        pos += 1

    for name, what in LATENCIES.items():
        metric = f"tickgate_latency_{name}_seconds"
        add(f"{name}: {what}", [(f'{metric}{{quantile="{q / 100:g}"}} * 1e6', f"p{q:g}")
                                for q in QUANTILES.values()], unit="µs")
    add("flow (per second)", [(f"rate(tickgate_{c}_total[1m])", c) for c in FLOW_COUNTERS])
    add("alerts", [("tickgate_alert_active", "{{alert}} active"), ("tickgate_alert_value", "{{alert}} value"),
                   ("tickgate_alert_raised_total", "{{alert}} raised"),
                   ("tickgate_alerts_raised_total", "raised, all"), ("tickgate_alerts_cleared_total", "cleared, all")])
    add("fan-out and shared-memory ring (per second)",
        [(f"rate(tickgate_{c}_total[1m])", c) for c in PUBLISH_COUNTERS])
    add("every counter (card, feed, host)", [(ALL_COUNTERS, "{{__name__}}")], kind="table", w=24, h=12,
        x=0, y=8 * ((pos + 1) // 2))
    return {
        "title": "tickgate host",
        "uid": "tickgate-host",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "tags": ["tickgate"],
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Prometheus"}]},
        "panels": panels,
    }
