"""Benchmark: the goals of `tickgate backtest` and `tickgate verify` on Ray, on generated days, whole commands.

1. scaling: `tickgate backtest` on DAYS generated days of each size in --sizes, with --workers 1 and --workers 2
   interleaved (1, 2, 1, 2, ...), REPEAT runs each, medians of each part: the whole command; Ray's start; the
   days (from the first task sent to the last result back); the output (Parquet, plot); the rest (Python and the
   CLI's imports, Ray's shutdown at exit); the days' CPU time in the tasks. Ratios 1 worker / 2 workers of the
   days and of the whole command, per size. The JSON rows and the Parquet bytes of every run must be identical.
   Goal: 2 workers >= 1.8x one.
2. versus run: `tickgate backtest FILE --workers 1` against `tickgate run --feed FILE --backend software
   --exchange paper`, the same strategy on the same file (the first day of the smallest size), alternating,
   medians: the day's own time (backtest: the day's task; run: its loop's `seconds`) and the ratio. Goal: within
   20 %.
3. verify: `tickgate verify FILE --backend sim --shards 2` with --workers 1 and 2 interleaved, medians: the whole
   command, Ray's start, the shards (first task sent to last report back), each shard's own time and CPU.
   Goal: scales with workers.
   ceiling: two of the days in two plain processes (no Ray) of one session, one after the other and at once:
   what the machine gives two processes, the most two workers can reach.
   kept: the same backtests joining a Ray kept up between commands (`--ray ADDRESS`), without Ray's start.
4. paper: 100 days x 270 M messages on N cores from the measured per-core rates (messages per CPU second of a
   day's task, of a verify shard, and of a verify task's native read of the whole day), a task a core (`paper`).

Every command runs in a session of its own (`start_new_session`: a scheduling autogroup of its own, apart from
this script's); the load average is printed beside every figure (one minute's, before and after each run). One
JSON line per part, then one JSON object of all.

    setsid .venv/bin/python tests/bench_backtest.py [--days 4] [--sizes 400000,2000000,4000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
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
REAL_DAY = 270_000_000  # messages in a busy Nasdaq day
PAPER_DAYS = 100
PAPER_CORES = (2, 16, 64, 256, 1000)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def command(args: list[str], env: dict[str, str] | None = None) -> dict:
    """Run `tickgate ARGS` in a session of its own: wall s, stdout, stderr, load average before and after."""
    before = load()
    t0 = time.perf_counter()
    p = subprocess.run([TICKGATE, *args], capture_output=True, text=True, check=False, start_new_session=True,
                       env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1) or "Traceback" in p.stderr:
        raise SystemExit(f"tickgate {' '.join(args)} failed:\n{p.stderr}")
    return {"wall": wall, "stdout": p.stdout, "stderr": p.stderr, "load": (before, load())}


def figure(stderr: str, pattern: str) -> float:
    m = re.search(pattern, stderr)
    if m is None:
        raise SystemExit(f"no {pattern!r} in:\n{stderr}")
    return float(m.group(1).replace(",", ""))


def med(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def summarise(runs: list[dict]) -> dict:
    """Medians of every numeric part, the runs' own figures, the load range."""
    out = {k: med([r[k] for r in runs]) for k in runs[0] if k != "load"}
    loads = [x for r in runs for x in r["load"]]
    out["load"] = [min(loads), max(loads)]
    out["runs"] = [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in runs]
    return out


def backtest_run(files: list[Path], workers: int, out: Path, strategy: str) -> tuple[dict, tuple]:
    r = command(["backtest", *map(str, files), "--strategy", strategy, "--workers", str(workers), "--out", str(out),
                 "--json", "--no-progress"])
    err = r["stderr"]
    parts = {"command_s": r["wall"], "ray_start_s": figure(err, r"Ray up in ([\d.]+) s"),
             "days_s": figure(err, r"messages in ([\d.]+) s \("),
             "output_s": figure(err, r"output written in ([\d.]+) s"),
             "days_cpu_s": figure(err, r"([\d.]+) s CPU in the days"),
             "messages": int(figure(err, r"days, ([\d,]+) messages")), "load": r["load"]}
    parts["rest_s"] = parts["command_s"] - parts["ray_start_s"] - parts["days_s"] - parts["output_s"]
    result = (r["stdout"].strip().splitlines()[-1], (out / "days.parquet").read_bytes(),
              (out / "fills.parquet").read_bytes())
    return parts, result


def scaling(files: list[Path], out: Path, repeat: int, strategy: str) -> dict:
    runs: dict[int, list[dict]] = {1: [], 2: []}
    results = set()
    for r in range(repeat):
        for workers in (1, 2):
            parts, result = backtest_run(files, workers, out / f"w{workers}_{r}", strategy)
            runs[workers].append(parts)
            results.add(result)
            print(json.dumps({"run": "backtest", "workers": workers, "messages_per_day": parts["messages"]
                              // len(files), **{k: round(v, 2) if isinstance(v, float) else v
                                                for k, v in parts.items()}}), file=sys.stderr, flush=True)
    res = {w: summarise(v) for w, v in runs.items()}
    return {"workers": res, "identical": len(results) == 1,
            "ratio_days": round(res[1]["days_s"] / res[2]["days_s"], 3),
            "ratio_command": round(res[1]["command_s"] / res[2]["command_s"], 3),
            "ratio_command_without_ray_start": round((res[1]["command_s"] - res[1]["ray_start_s"])
                                                     / (res[2]["command_s"] - res[2]["ray_start_s"]), 3),
            "messages_per_cpu_s": round(res[1]["messages"] / res[1]["days_cpu_s"])}


HOLD = """import sys, ray
from tickgate.host.parallel import ensure_ray
ensure_ray(2)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""


def kept_up(files: list[Path], out: Path, repeat: int, strategy: str) -> dict:
    """The same backtests joining a Ray that stays up between commands (started once here, embedded in a process of
    this script's, as `ray start --head` would be): each command without Ray's start."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        address = holder.stdout.readline().strip()  # type: ignore[union-attr]
        runs: dict[int, list[dict]] = {1: [], 2: []}
        for r in range(repeat):
            for workers in (1, 2):
                d = out / f"kept{workers}_{r}"
                c = command(["backtest", *map(str, files), "--strategy", strategy, "--workers", str(workers),
                             "--ray", address, "--out", str(d), "--json", "--no-progress"],
                            env={"RAY_AUTH_MODE": "token"})  # the token the holder's Ray made (~/.ray/auth_token)
                err = c["stderr"]
                runs[workers].append({"command_s": c["wall"], "ray_connect_s": figure(err, r"Ray up in ([\d.]+)"),
                                      "days_s": figure(err, r"messages in ([\d.]+) s \("), "load": c["load"]})
        res = {w: summarise(v) for w, v in runs.items()}
        return {"workers": res, "ratio_days": round(res[1]["days_s"] / res[2]["days_s"], 3),
                "ratio_command": round(res[1]["command_s"] / res[2]["command_s"], 3)}
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(120)


DAY = """import sys, time
from tickgate.host.backtest.day import DaySpec, run_day
t0 = time.time()
run_day(sys.argv[1], DaySpec(strategy=sys.argv[2]))
print(t0, time.time())
"""


def ceiling(files: list[Path], repeat: int, strategy: str) -> dict:
    """What this machine gives two processes at once, without Ray: two days in two plain processes of one session
    (one scheduling group, as Ray's workers are), one after the other and then at the same time; the ratio of the
    days' time (imports apart) is the most two workers can reach here."""
    def spans(shell: str) -> list[tuple[float, float]]:
        p = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, check=True, start_new_session=True)
        return [tuple(map(float, line.split())) for line in p.stdout.split("\n") if line.strip()]  # type: ignore[misc]

    cmds = [shlex.join([sys.executable, "-c", DAY, str(f), strategy]) for f in files[:2]]
    runs = {"sequential_s": [], "parallel_s": [], "load": []}
    for _ in range(repeat):
        before = load()
        seq = spans(" ; ".join(cmds))
        par = spans(" & ".join(cmds) + " & wait")
        runs["sequential_s"].append(sum(b - a for a, b in seq))
        runs["parallel_s"].append(max(b for _, b in par) - min(a for a, _ in par))
        runs["load"] += [before, load()]
    out = {k: med(v) for k, v in runs.items() if k != "load"}
    return {**out, "ratio": round(out["sequential_s"] / out["parallel_s"], 3),
            "load": [min(runs["load"]), max(runs["load"])]}


def versus_run(path: Path, repeat: int, strategy: str) -> dict:
    runs: dict[str, list[dict]] = {"backtest": [], "run_paper": []}
    for _ in range(repeat):
        r = command(["backtest", str(path), "--strategy", strategy, "--workers", "1", "--json", "--no-progress"])
        runs["backtest"].append({"command_s": r["wall"], "ray_start_s": figure(r["stderr"], r"Ray up in ([\d.]+) s"),
                                 "day_s": figure(r["stderr"], r"([\d.]+) s wall and"),
                                 "day_cpu_s": figure(r["stderr"], r"([\d.]+) s CPU in the days"), "load": r["load"]})
        r = command(["run", "--feed", str(path), "--strategy", strategy, "--backend", "software", "--exchange",
                     "paper", "--json", "--no-progress"])
        runs["run_paper"].append({"command_s": r["wall"], "day_s": json.loads(r["stdout"].strip().splitlines()[-1])
                                  ["seconds"], "load": r["load"]})
    out = {k: summarise(v) for k, v in runs.items()}
    out["day_ratio"] = round(out["backtest"]["day_s"] / out["run_paper"]["day_s"], 3)  # backtest / run, wall
    return out


def verify(path: Path, repeat: int) -> dict:
    runs: dict[int, list[dict]] = {1: [], 2: []}
    for _ in range(repeat):
        for workers in (1, 2):
            r = command(["verify", str(path), "--backend", "sim", "--shards", "2", "--workers", str(workers),
                         "--json", "--no-progress"])
            rep = json.loads(r["stdout"].strip().splitlines()[-1])
            if rep["mismatched_shards"]:
                raise SystemExit(f"verify found mismatches: {rep}")
            parts = {"command_s": r["wall"], "ray_start_s": figure(r["stderr"], r"Ray up in ([\d.]+) s"),
                     "shards_s": rep["seconds"], "messages": sum(s["messages"] for s in rep["shards"]),
                     "shards_cpu_s": sum(s["cpu_seconds"] for s in rep["shards"]),
                     "shard_max_s": max(s["seconds"] for s in rep["shards"]), "load": r["load"]}
            for s in rep["shards"]:
                parts[f"shard{s['shard']}_s"] = s["seconds"]
                parts[f"shard{s['shard']}_cpu_s"] = s["cpu_seconds"]
            runs[workers].append(parts)
            print(json.dumps({"run": "verify", "workers": workers, **{k: round(v, 2) if isinstance(v, float) else v
                                                                      for k, v in parts.items()}}),
                  file=sys.stderr, flush=True)
    res = {w: summarise(v) for w, v in runs.items()}
    return {"workers": res, "ratio_shards": round(res[1]["shards_s"] / res[2]["shards_s"], 3),
            "ratio_command": round(res[1]["command_s"] / res[2]["command_s"], 3),
            "messages_per_cpu_s": round(res[1]["messages"] / res[1]["shards_cpu_s"])}


def paper(rate: float, read_rate: float | None = None) -> dict:
    """Hours for PAPER_DAYS days of REAL_DAY messages at `rate` messages per core-second, on N cores, each task on
    a core of its own. Backtest (`read_rate` None): a day is one task, so past PAPER_DAYS cores a day's time is
    the floor. Verify: a day in max(1, N // PAPER_DAYS) shards, each task also reading the whole day at `read_rate`
    (the native split: the part that does not shrink with more shards)."""
    out: dict = {"messages_per_core_s": round(rate), "day_core_hours": round(REAL_DAY / rate / 3600, 2)}
    for n in PAPER_CORES:
        shards = 1 if read_rate is None else max(1, n // PAPER_DAYS)
        task_s = REAL_DAY / shards / rate + (REAL_DAY / read_rate if read_rate else 0)
        rounds = -(-PAPER_DAYS * shards // n)
        out[f"hours_on_{n}_cores"] = round(rounds * task_s / 3600, 2)
    return out


def read_rate(path: Path) -> float:
    """The day's messages per CPU second a verify task takes to read its shard (shard 0 of 2) from `path` natively
    (`host/verify_split.py`: the whole file framed, the shard's messages kept), best of 3."""
    from tickgate.host.verify_split import shard_chunks

    day = sum(len(c.ends) for c in shard_chunks(path, 0, 1))
    best = float("inf")
    for _ in range(3):
        c0 = time.process_time()
        for _chunk in shard_chunks(path, 0, 2):
            pass
        best = min(best, time.process_time() - c0)
    return day / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=4)
    ap.add_argument("--sizes", default="400000,2000000,4000000", help="messages per generated day, comma-separated")
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--verify-messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--strategy", default="imbalance")
    ap.add_argument("--skip", action="append", default=[], choices=("ceiling", "scaling", "kept", "run", "verify"))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled")
        report: dict = {"days": args.days, "sizes": sizes, "strategy": args.strategy, "repeat": args.repeat,
                        "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                        "autogroup": autogroup.read_text().strip() if autogroup.exists() else None}
        if {"ceiling", "scaling", "kept", "run"} - set(args.skip):
            report["scaling"] = {}
            for size in sizes:
                files = []
                for seed in range(1, args.days + 1):
                    f = tmp_path / f"day{size}_{seed}.itch50"
                    write_binaryfile(f, generate(size, args.symbols, seed))
                    files.append(f)
                if "ceiling" not in args.skip:
                    report.setdefault("ceiling", {})[size] = ceiling(files, args.repeat, args.strategy)
                    print(json.dumps({"ceiling": {size: report["ceiling"][size]}}), flush=True)
                if "run" not in args.skip and size == min(sizes):
                    report["versus_run"] = versus_run(files[0], args.repeat, args.strategy)
                    print(json.dumps({"versus_run": report["versus_run"]}), flush=True)
                if "scaling" not in args.skip:
                    report["scaling"][size] = scaling(files, tmp_path / f"out{size}", args.repeat, args.strategy)
                    print(json.dumps({"scaling": {size: report["scaling"][size]}}), flush=True)
                if "kept" not in args.skip:
                    report.setdefault("ray_kept_up", {})[size] = kept_up(files, tmp_path / f"out{size}", args.repeat,
                                                                         args.strategy)
                    print(json.dumps({"ray_kept_up": {size: report["ray_kept_up"][size]}}), flush=True)
                for f in files:
                    f.unlink()
        if "verify" not in args.skip:
            vf = tmp_path / "verify.itch50"
            write_binaryfile(vf, generate(args.verify_messages, 40, 99))
            report["verify"] = verify(vf, args.repeat)
            print(json.dumps({"verify": report["verify"]}), flush=True)
        report["paper"] = {}
        if report.get("scaling"):
            rate = max(s["messages_per_cpu_s"] for s in report["scaling"].values())
            report["paper"]["backtest"] = paper(rate)
        if "verify" in report:
            report["verify"]["read_messages_per_cpu_s"] = round(read_rate(vf))
            report["paper"]["verify"] = paper(report["verify"]["messages_per_cpu_s"],
                                              report["verify"]["read_messages_per_cpu_s"])
        report["load_avg_end"] = os.getloadavg()
        print(json.dumps({"paper": report["paper"]}), flush=True)
        print(json.dumps(report))


if __name__ == "__main__":
    main()
