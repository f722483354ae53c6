"""The `tickgate` command end to end: gen, then replay with --json and --events."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import DATA
from tickgate.protocol.events import EVENT_DTYPE, EventKind, comparable


def tickgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tickgate.host.cli", *args], capture_output=True, text=True,
                          check=False, timeout=300)


@pytest.mark.parametrize("fmt", ["itch50", "pcap"])
def test_gen_then_replay(tmp_path, fmt):
    feed = tmp_path / f"feed.{fmt}"
    r = tickgate("gen", str(feed), "--messages", "20000", "--symbols", "50", "--seed", "3", "--format", fmt)
    assert r.returncode == 0, r.stderr
    events = tmp_path / "events.npy"
    r = tickgate("replay", str(feed), "--backend", "model", "--events", str(events), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"backend", "messages", "seconds", "msgs_per_s", "counters"} <= summary.keys()
    assert summary["backend"] == "model" and summary["messages"] == 20000
    assert summary["counters"]["messages"] == 20000 and summary["msgs_per_s"] > 0
    assert "msgs/s" in r.stdout and "events_bbo" in r.stdout
    ev = np.load(events)
    assert ev.dtype == EVENT_DTYPE and len(ev) == summary["events"] == summary["counters"]["events"]
    assert (ev["kind"] == EventKind.BBO).sum() == summary["counters"]["events_bbo"]
    assert np.all(np.diff(ev["seq"].astype(np.int64)) >= 0)


def test_same_feed_same_events_from_itch50_and_pcap(tmp_path):
    for fmt in ("itch50", "pcap"):
        assert tickgate("gen", str(tmp_path / f"f.{fmt}"), "--messages", "5000", "--symbols", "20", "--seed", "9",
                        "--format", fmt).returncode == 0
        assert tickgate("replay", str(tmp_path / f"f.{fmt}"), "--events", str(tmp_path / f"{fmt}.npy")).returncode == 0
    a, b = np.load(tmp_path / "itch50.npy"), np.load(tmp_path / "pcap.npy")
    # the pcap carries capture times (ts_local); everything else is the same
    assert len(a) == len(b) > 1000
    assert np.array_equal(a[["kind", "locate", "seq", "ts_exch", "bid_px", "bid_sz", "ask_px", "ask_sz"]],
                          b[["kind", "locate", "seq", "ts_exch", "bid_px", "bid_sz", "ask_px", "ask_sz"]])


def test_replay_truncated_file_reports_it():
    r = tickgate("replay", str(DATA / "itch/nasdaq_2016_truncated_500B.itch50"), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["messages"] == 16 and summary["feed"]["file_truncated_bytes"] > 0


def test_replay_missing_file_is_a_clear_error(tmp_path):
    r = tickgate("replay", str(tmp_path / "nope.itch50"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_sim_decoder_stage_json(tmp_path):
    wave = tmp_path / "decoder.vcd"
    r = tickgate("sim", str(DATA / "itch/meatpy_synthetic_20msgs.itch50"), "--stage", "decoder", "--json",
                 "--wave", str(wave), "--idle", "0.2", "--stall", "0.2")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["messages"] == 20 and summary["mismatches"] == 0 and summary["cycles"] > 0
    assert set(summary["latency_cycles"]) == {"min", "median", "max"} and summary["latency_cycles"]["max"] <= 6
    assert wave.stat().st_size > 1000 and wave.read_bytes().startswith(b"$version")


def test_replay_software_backend_equals_the_model(tmp_path):
    feed = tmp_path / "feed.itch50"
    assert tickgate("gen", str(feed), "--messages", "30000", "--symbols", "80", "--seed", "4").returncode == 0
    summaries = {}
    for backend in ("model", "software"):
        r = tickgate("replay", str(feed), "--backend", backend, "--events", str(tmp_path / f"{backend}.npy"), "--json")
        assert r.returncode == 0, r.stderr
        summaries[backend] = json.loads(r.stdout.strip().splitlines()[-1])
    assert summaries["software"]["backend"] == "software"
    assert summaries["software"]["counters"] == summaries["model"]["counters"]
    assert np.load(tmp_path / "software.npy").tobytes() == np.load(tmp_path / "model.npy").tobytes()
    caps = ("--order-table", "6:2:4", "--max-levels", "4", "--max-symbols", "60", "--level-events")
    for backend in ("model", "software"):
        r = tickgate("replay", str(feed), "--backend", backend, *caps, "--events",
                     str(tmp_path / f"{backend}_caps.npy"), "--json")
        assert r.returncode == 0, r.stderr
        summaries[backend] = json.loads(r.stdout.strip().splitlines()[-1])
    counters = summaries["model"]["counters"]
    assert summaries["software"]["counters"] == counters
    assert min(counters[k] for k in ("order_table_full", "levels_full", "symbols_full", "events_level")) > 0
    assert np.load(tmp_path / "software_caps.npy").tobytes() == np.load(tmp_path / "model_caps.npy").tobytes()
    r = tickgate("replay", str(feed), "--backend", "software", "--level-events")
    assert r.returncode == 2 and "level_events needs max_levels" in r.stderr


def test_replay_of_a_gzip_cut_short_is_an_error_unless_allowed(tmp_path):
    """Issue 17: a partial download of a day replayed with exit 0 and only file_truncated_bytes to show it."""
    import gzip

    whole = gzip.compress((DATA / "itch/nasdaq_day_start_1000msgs.itch50").read_bytes())
    cut = tmp_path / "12302019.NASDAQ_ITCH50.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    r = tickgate("replay", str(cut), "--json")
    assert r.returncode == 2 and "gzip stream is cut short" in r.stderr and "--allow-truncated" in r.stderr
    r = tickgate("replay", str(cut), "--json", "--allow-truncated")
    assert r.returncode == 0, r.stderr
    assert 0 < json.loads(r.stdout.strip().splitlines()[-1])["messages"] < 1000


def test_replay_of_an_unsupported_link_type_names_it(tmp_path):
    import struct

    cap = tmp_path / "usb.pcap"
    cap.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 189) + struct.pack("<IIII", 1, 0, 4, 4)
                    + b"\0" * 4)
    r = tickgate("replay", str(cap))
    assert r.returncode == 2 and "link type 189" in r.stderr


def test_gen_two_lines_then_replay_them_equals_the_lossless_replay(tmp_path):
    """`gen --lines 2 --loss P` and `replay A --line-b B`: no packet lost on both lines here, so no gap and the
    events of the lossless feed (receive times aside), on the model and the C++ card."""
    r = tickgate("gen", str(tmp_path / "ab.pcap"), "--messages", "5000", "--symbols", "20", "--seed", "6",
                 "--lines", "2", "--loss", "0.05")
    assert r.returncode == 0, r.stderr
    assert "0 packets lost on both lines" in r.stdout and "lost) to" in r.stdout
    assert tickgate("gen", str(tmp_path / "all.pcap"), "--messages", "5000", "--symbols", "20",
                    "--seed", "6").returncode == 0
    assert tickgate("replay", str(tmp_path / "all.pcap"), "--events", str(tmp_path / "all.npy")).returncode == 0
    want = np.load(tmp_path / "all.npy")
    for backend in ("model", "software"):
        out = tmp_path / f"{backend}.npy"
        r = tickgate("replay", str(tmp_path / "ab-A.pcap"), "--line-b", str(tmp_path / "ab-B.pcap"), "--backend",
                     backend, "--events", str(out), "--json")
        assert r.returncode == 0, r.stderr
        counters = json.loads(r.stdout.strip().splitlines()[-1])["counters"]
        assert "seq_gaps" not in counters and counters["line_a_used"] > 0 and counters["line_b_used"] > 0
        got = np.load(out)
        assert len(got) == len(want) and np.array_equal(comparable(got), comparable(want))
    r = tickgate("replay", str(tmp_path / "ab-A.pcap"), "--line-b", str(tmp_path / "ab-B.pcap"), "--backend", "f1")
    assert r.returncode != 0 and "no card image has the line arbiter" in r.stderr
