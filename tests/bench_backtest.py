"""Benchmark: the goals of `tickgate backtest` and `tickgate verify` on Ray, on generated days, whole commands.

1. scaling: `tickgate backtest` on DAYS generated days with --workers 1 and --workers 2 (Ray embedded), REPEAT
   runs each, medians: the whole command (Ray's start included) and the days' time (the command's own figure,
   Ray's start apart); the ratios 1 worker / 2 workers. The JSON rows and the Parquet bytes of every run must be
   identical. Goal: 2 workers >= 1.8x one.
2. versus run: `tickgate backtest FILE --workers 1` against `tickgate run --feed FILE --backend software
   --exchange paper`, the same strategy on the same file, REPEAT runs each, alternating, medians: the whole
   commands' wall time, and the day's own time (backtest: the day's task, wall and CPU; run: its loop's
   `seconds`); per-day throughput in messages/s and the ratio backtest / run. Goal: within 20 %.
3. verify: `tickgate verify FILE --backend sim --shards 2` with --workers 1 and 2, REPEAT runs each, medians:
   the whole command and the shards' time (Ray's start apart); shard messages/s and the ratio. Goal: scales.

Every figure is printed as one JSON line per part, then one JSON object of all.

    .venv/bin/python tests/bench_backtest.py [--days 4] [--messages 400000] [--verify-messages 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickgate.host.feeds.generator import generate  # noqa: E402
from tickgate.protocol.binaryfile import write_binaryfile  # noqa: E402

TICKGATE = str(Path(sys.executable).parent / "tickgate")


def command(args: list[str]) -> tuple[float, float, str, str]:
    """(wall s, CPU s of the command's process tree as far as it was waited for, stdout, stderr)."""
    before = os.times()
    t0 = time.perf_counter()
    p = subprocess.run([TICKGATE, *args], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = os.times()
    if p.returncode not in (0, 1) or "Traceback" in p.stderr:
        raise SystemExit(f"tickgate {' '.join(args)} failed:\n{p.stderr}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, p.stdout, p.stderr


def figure(stderr: str, pattern: str) -> float:
    m = re.search(pattern, stderr)
    if m is None:
        raise SystemExit(f"no {pattern!r} in:\n{stderr}")
    return float(m.group(1).replace(",", ""))


def days_seconds(stderr: str) -> float:
    """The command's own figure: '... messages in X s' (Ray's start apart)."""
    return figure(stderr, r"messages in ([\d.]+) s \(")


def med(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def scaling(files: list[Path], out: Path, repeat: int, strategy: str) -> dict:
    res: dict = {}
    outputs = {}
    for workers in (1, 2):
        walls, inner, ray, cpu = [], [], [], []
        for r in range(repeat):
            d = out / f"w{workers}_{r}"
            wall, _, stdout, stderr = command(["backtest", *map(str, files), "--strategy", strategy, "--workers",
                                               str(workers), "--out", str(d), "--json", "--no-progress"])
            walls.append(wall)
            inner.append(days_seconds(stderr))
            ray.append(figure(stderr, r"Ray up in ([\d.]+) s"))
            cpu.append(figure(stderr, r"([\d.]+) s CPU in the days"))
            outputs[(workers, r)] = (stdout.strip().splitlines()[-1], (d / "days.parquet").read_bytes(),
                                     (d / "fills.parquet").read_bytes())
        res[workers] = {"command_s": med(walls), "days_s": med(inner), "ray_start_s": med(ray),
                        "days_cpu_s": med(cpu), "runs_command_s": [round(w, 2) for w in walls], "runs_days_s": inner}
    return {"workers": res, "identical": len(set(outputs.values())) == 1,
            "ratio_command": round(res[1]["command_s"] / res[2]["command_s"], 3),
            "ratio_days": round(res[1]["days_s"] / res[2]["days_s"], 3)}


def versus_run(path: Path, repeat: int, strategy: str) -> dict:
    runs: dict[str, list[dict]] = {"backtest": [], "run_paper": []}
    for _ in range(repeat):
        wall, _, stdout, stderr = command(["backtest", str(path), "--strategy", strategy, "--workers", "1",
                                           "--json", "--no-progress"])
        messages = json.loads(stdout.strip().splitlines()[-1])["days"][0]["messages"]
        runs["backtest"].append({"command_s": wall, "ray_start_s": figure(stderr, r"Ray up in ([\d.]+) s"),
                                 "day_s": figure(stderr, r"([\d.]+) s wall and"),
                                 "day_cpu_s": figure(stderr, r"([\d.]+) s CPU in the days"), "messages": messages})
        wall, cpu, stdout, _ = command(["run", "--feed", str(path), "--strategy", strategy, "--backend", "software",
                                        "--exchange", "paper", "--json", "--no-progress"])
        summary = json.loads(stdout.strip().splitlines()[-1])
        runs["run_paper"].append({"command_s": wall, "command_cpu_s": cpu, "day_s": summary["seconds"],
                                  "messages": summary["counters"].get("messages", messages)})
    out: dict = {}
    for k, v in runs.items():
        out[k] = {f: med([x[f] for x in v]) for f in v[0] if f != "messages"}
        out[k]["messages"] = v[0]["messages"]
        out[k]["day_messages_per_s"] = round(v[0]["messages"] / out[k]["day_s"])
        if "day_cpu_s" in out[k]:
            out[k]["day_messages_per_cpu_s"] = round(v[0]["messages"] / out[k]["day_cpu_s"])
        out[k]["runs_day_s"] = [round(x["day_s"], 3) for x in v]
    b, r = out["backtest"], out["run_paper"]
    out["day_ratio"] = round(b["day_s"] / r["day_s"], 3)  # backtest's day / run's loop, wall
    out["command_ratio"] = round(b["command_s"] / r["command_s"], 3)
    out["command_ratio_without_ray_start"] = round((b["command_s"] - b["ray_start_s"]) / r["command_s"], 3)
    return out


def verify(path: Path, repeat: int) -> dict:
    res: dict = {}
    for workers in (1, 2):
        walls, inner, ray, shard_s, cpu, messages = [], [], [], [], [], 0
        for _ in range(repeat):
            wall, _, stdout, stderr = command(["verify", str(path), "--backend", "sim", "--shards", "2", "--workers",
                                               str(workers), "--json", "--no-progress"])
            rep = json.loads(stdout.strip().splitlines()[-1])
            if rep["mismatched_shards"]:
                raise SystemExit(f"verify found mismatches: {rep}")
            messages = sum(r["messages"] for r in rep["shards"])
            walls.append(wall)
            inner.append(days_seconds(stderr))
            ray.append(figure(stderr, r"Ray up in ([\d.]+) s"))
            shard_s.append([r["seconds"] for r in rep["shards"]])
            cpu.append(sum(r["cpu_seconds"] for r in rep["shards"]))
        res[workers] = {"command_s": med(walls), "shards_s": med(inner), "ray_start_s": med(ray),
                        "shard_messages": messages, "messages_per_s": round(messages / statistics.median(inner)),
                        "shards_cpu_s": med(cpu), "messages_per_cpu_s": round(messages / statistics.median(cpu)),
                        "runs_shards_s": inner, "runs_each_shard_s": shard_s}
    res["ratio_shards"] = round(res[1]["shards_s"] / res[2]["shards_s"], 3)
    res["ratio_command"] = round(res[1]["command_s"] / res[2]["command_s"], 3)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=4)
    ap.add_argument("--messages", type=int, default=400_000)
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--verify-messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--strategy", default="imbalance")
    ap.add_argument("--skip", action="append", default=[], choices=("scaling", "run", "verify"))
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        files = []
        for seed in range(1, args.days + 1):
            f = tmp_path / f"day{seed}.itch50"
            write_binaryfile(f, generate(args.messages, args.symbols, seed))
            files.append(f)
        report: dict = {"days": args.days, "messages_per_day": args.messages, "strategy": args.strategy,
                        "repeat": args.repeat, "cpus": os.cpu_count(), "load_avg": os.getloadavg()}
        if "scaling" not in args.skip:
            report["scaling"] = scaling(files, tmp_path, args.repeat, args.strategy)
            print(json.dumps({"scaling": report["scaling"]}), flush=True)
        if "run" not in args.skip:
            report["versus_run"] = versus_run(files[0], args.repeat, args.strategy)
            print(json.dumps({"versus_run": report["versus_run"]}), flush=True)
        if "verify" not in args.skip:
            vf = tmp_path / "verify.itch50"
            write_binaryfile(vf, generate(args.verify_messages, 40, 99))
            report["verify"] = verify(vf, args.repeat)
            print(json.dumps({"verify": report["verify"]}), flush=True)
        report["load_avg_end"] = os.getloadavg()
        print(json.dumps(report))


if __name__ == "__main__":
    main()
