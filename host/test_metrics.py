"""Latency histograms, the Prometheus endpoint, the summary table and the plot."""

from __future__ import annotations

import urllib.request

import numpy as np

from tickgate.host.metrics import LatencyRecorder, Metrics, PrometheusServer, bucket_of, bucket_upper, plot_latencies


def test_buckets_are_exact_below_128_and_within_1_6_percent_above():
    v = np.arange(0, 2_000_000, dtype=np.int64)
    b = bucket_of(v)
    assert np.array_equal(b[:128], v[:128])
    assert (np.diff(b) >= 0).all()
    upper = bucket_upper(b)
    assert (upper >= v).all() and ((upper - v) / np.maximum(v, 1) < 0.016).all()
    assert (bucket_upper(b[128:] - 1) < v[128:]).all()  # the bucket below ends below the value
    assert bucket_of(np.array([-5]))[0] == 0


def test_percentiles_across_ring_folds():
    r = LatencyRecorder("x", capacity=1000)
    r.add_many(10_000, np.arange(10_000, dtype=np.uint64))  # 10000 samples 1..10000, ring folds 10 times
    r.add(50)
    p = r.percentiles()
    assert p["count"] == 10_001 and p["max"] == 10_000.0
    assert 5000 <= p["p50"] <= 5000 * 1.016 and 9900 <= p["p99"] <= 9900 * 1.016
    assert p["mean"] == (sum(range(1, 10_001)) + 50) / 10_001
    empty = LatencyRecorder("y").percentiles()
    assert empty["count"] == 0 and empty["p99"] == 0.0


def test_prometheus_endpoint_and_plot(tmp_path):
    m = Metrics()
    m.counters["orders"] = 3
    m.latency["tick_to_strategy"].add_many(5_000, np.array([1_000, 2_000, 3_000], dtype=np.uint64))
    srv = PrometheusServer(m)
    try:
        assert srv.url.startswith("http://127.0.0.1:")
        text = urllib.request.urlopen(srv.url, timeout=5).read().decode()
    finally:
        srv.close()
    assert "tickgate_orders_total 3\n" in text
    # samples 4000, 3000, 2000 ns: the median's bucket is 2976..3007 ns
    assert 'tickgate_latency_tick_to_strategy_seconds{quantile="0.5"} 0.000003007\n' in text
    assert "tickgate_latency_tick_to_strategy_seconds_count 3\n" in text
    assert "tickgate_latency_strategy_to_order_seconds_count 0\n" in text
    png = tmp_path / "lat.png"
    plot_latencies(m, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
