"""Alerts and dashboards: thresholds raised and cleared (log, counter, series), the shipped Prometheus rules equal
to the thresholds, and every metric of the shipped Grafana dashboard exported by a run."""

from __future__ import annotations

import json
import logging
import re
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from tickgate.host.alerts import Alerts, Threshold, load_thresholds, parse_threshold, render_rules
from tickgate.host.backend import open_backend
from tickgate.host.cli import main
from tickgate.host.dashboard import ALL_COUNTERS, render_dashboard
from tickgate.host.exchange.paper import PaperExchange
from tickgate.host.feeds.sources import GeneratedFeed
from tickgate.host.metrics import Metrics
from tickgate.host.run import Runner, RunOptions
from tickgate.host.shm import segment_path
from tickgate.host.strategy import load_strategy

ROOT = Path(__file__).resolve().parents[1]
OPS_ALERTS = ROOT / "ops" / "alerts.toml"
OPS_RULES = ROOT / "ops" / "prometheus" / "tickgate_alerts.yml"
OPS_DASHBOARD = ROOT / "ops" / "grafana" / "tickgate.json"
_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)")


def exported_names(text: str) -> set[str]:
    """The metric names of a Prometheus text exposition (summaries' _sum and _count included)."""
    return {m.group(1) for line in text.splitlines() if line and not line.startswith("#")
            for m in [_SERIES.match(line)] if m}


def named_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression of ours selects (not label names, functions or numbers)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    return {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if w.startswith("tickgate_")}


@pytest.fixture(scope="module")
def run_metrics():
    """The /metrics text of a demo-like run with every optional part on: fan-out, the shm ring, control, alerts."""
    name = f"tickgate-test-{uuid.uuid4().hex[:12]}"
    ex = PaperExchange()
    opts = RunOptions(fanout="tcp://127.0.0.1:0", control="tcp://127.0.0.1:0", shm=name, prometheus_port=0,
                      drain_s=0.1, alerts=tuple(load_thresholds(OPS_ALERTS)))
    r = Runner(list(GeneratedFeed(20_000, 20, 1)), open_backend("software"), load_strategy("imbalance"), ex,
               exchange=ex, options=opts)
    try:
        summary = r.run()
        with urllib.request.urlopen(r.prometheus.url, timeout=5) as resp:
            text = resp.read().decode()
    finally:
        r.close()
        segment_path(name).unlink(missing_ok=True)
    assert summary["orders"] > 0
    return text


def test_thresholds_parse_and_refuse_clearly(tmp_path):
    t = parse_threshold("tick_to_order_p99_us=50")
    assert t == Threshold("tick_to_order_p99_us", 50.0) and t.latency == ("tick_to_order", 99.0)
    assert parse_threshold("tick_to_order_p99_9_us = 80").latency == ("tick_to_order", 99.9)
    assert parse_threshold("fanout_dropped=0").latency is None
    with pytest.raises(ValueError, match="expected METRIC=LIMIT"):
        parse_threshold("tick_to_order_p99_us")
    with pytest.raises(ValueError, match="the limit must be a number, not 'fast'"):
        parse_threshold("tick_to_order_p99_us=fast")
    with pytest.raises(ValueError, match="no latency 'tick_to_moon'"):
        parse_threshold("tick_to_moon_p99_us=5")
    bad = tmp_path / "a.toml"
    bad.write_text("[thresholds]\nkills = 'many'\n")
    with pytest.raises(ValueError, match="threshold kills must be a number"):
        load_thresholds(bad)
    bad.write_text("x = 1\n")
    with pytest.raises(ValueError, match=r"expected a \[thresholds\] table"):
        load_thresholds(bad)


def test_an_alert_is_raised_and_cleared_with_a_log_line_a_counter_and_a_series(caplog):
    m = Metrics()
    alerts = Alerts([parse_threshold("tick_to_order_p99_us=50"), parse_threshold("rejects=2")], m)
    rec = m.latency["tick_to_order"]
    for _ in range(100):
        rec.add(10_000)  # 10 µs
    with caplog.at_level(logging.INFO, logger="tickgate.alerts"):
        assert alerts.check() == []  # rejects does not exist yet: nothing to compare
        for _ in range(100):
            rec.add(200_000)  # 200 µs: p99 crosses
        m.counters["rejects"] = 3
        raised = alerts.check()
    assert len(raised) == 2 and raised[0].startswith("alert raised: tick_to_order_p99_us = 2")
    assert "alert raised: rejects = 3 > 2" in caplog.text
    assert m.counters["alerts_raised"] == 2 and m.counters["alerts_cleared"] == 0
    text = m.prometheus()
    assert 'tickgate_alert_active{alert="tick_to_order_p99_us",threshold="50"} 1' in text
    assert 'tickgate_alert_raised_total{alert="rejects"} 1' in text and "tickgate_alerts_raised_total 2" in text
    assert alerts.check() == []  # still crossed: not raised again
    m.counters["rejects"] = 1
    cleared = alerts.check()
    assert cleared == ["alert cleared: rejects = 1 <= 2"] and m.counters["alerts_cleared"] == 1
    assert 'tickgate_alert_active{alert="rejects",threshold="2"} 0' in m.prometheus()


def test_the_run_loop_checks_its_alerts(capsys):
    ex = PaperExchange()
    r = Runner(list(GeneratedFeed(5_000, 10, 2)), open_backend("software"), load_strategy("imbalance"), ex,
               exchange=ex, options=RunOptions(drain_s=0.0, alerts=(parse_threshold("tick_to_strategy_p50_us=0"),
                                                                   parse_threshold("kills=5"))))
    try:
        s = r.run()
    finally:
        r.close()
    assert s["counters"]["alerts_raised"] == 1  # tick -> strategy is never 0 µs; no kill
    assert r.alerts.active == {"tick_to_strategy_p50_us": True, "kills": False}


def test_the_shipped_rules_are_the_shipped_thresholds(run_metrics):
    thresholds = load_thresholds(OPS_ALERTS)
    assert OPS_RULES.read_text() == render_rules(thresholds)  # regenerate: tickgate alerts rules --alerts ...
    rules = yaml.safe_load(OPS_RULES.read_text())["groups"][0]["rules"]
    assert [(r["labels"]["metric"], float(r["labels"]["threshold"])) for r in rules] == \
        [(t.metric, t.limit) for t in thresholds]
    exported = exported_names(run_metrics)
    for rule, t in zip(rules, thresholds, strict=True):
        assert rule["expr"].endswith(f"> {t.limit:g}")
        assert named_metrics(rule["expr"]) <= exported, rule["expr"]


def test_alerts_rules_command(capsys, tmp_path):
    assert main(["alerts", "rules", "--alerts", str(OPS_ALERTS), "--alert", "kills=1", "--for", "30"]) == 0
    rules = yaml.safe_load(capsys.readouterr().out)["groups"][0]["rules"]
    kills = next(r for r in rules if r["labels"]["metric"] == "kills")
    assert kills["expr"] == "tickgate_kills_total > 1" and kills["for"] == "30s"  # the flag over the file
    assert main(["alerts", "rules"]) == 2


def test_every_metric_of_the_dashboard_is_exported(run_metrics):
    assert json.loads(OPS_DASHBOARD.read_text()) == render_dashboard()  # regenerate: tickgate alerts dashboard
    exprs = [t["expr"] for p in render_dashboard()["panels"] for t in p["targets"]]
    named = set().union(*(named_metrics(e) for e in exprs if e != ALL_COUNTERS))
    exported = exported_names(run_metrics)
    assert named - exported == set()
    # ... and every exported series is on it: named, or a counter in the table of every counter
    families = {n.removesuffix("_sum").removesuffix("_count") for n in exported}
    unnamed = {f for f in families if f not in named and not f.endswith("_total")}
    assert unnamed == set()
    assert {f"tickgate_latency_{n}_seconds" for n in ("tick_to_order", "tick_to_strategy")} <= named
