"""What tests/bench_orders.py and tests/bench_armed.py share: the machine's state around a latency figure.

Every case is measured in the same run, side by side: the machine as it is (`default`) and with the CPU wake-up
latency limit held at 0 (`qos0`: `tickgate run --cpu-dma-latency 0`, `tickgate.host.pmqos`), each with p50, p90
and p99 of every run and their medians; each run's line carries the load average read after it, since this
machine is shared and the rest of the suite disturbs the tails. `--haltpoll-ns NS` (root, a guest with the
`haltpoll` cpuidle driver) adds cases with the guest's halt polling set to NS for the case
(`/sys/module/haltpoll/parameters/guest_halt_poll_ns`, a machine-wide setting put back after each case): the
idle vCPU polls up to NS before it halts, the bounded form of `qos0`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

from tickgate.host.pmqos import CpuDmaLatency, cpuidle_states

__all__ = ["Figures", "describe_machine", "loadavg", "pin_trader", "tuning", "tunings"]

HALTPOLL = Path("/sys/module/haltpoll/parameters")


T = TypeVar("T")


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def describe_machine() -> str:
    """CPUs, the cpuidle driver and states, the haltpoll guest parameters, the load average."""
    idle = cpuidle_states()
    states = ", ".join(f"{s['name']} ({s['latency_us']} us)" for s in idle["states"])  # type: ignore[union-attr]
    halt = ""
    if HALTPOLL.is_dir():
        halt = "; haltpoll " + " ".join(f"{p.name}={p.read_text().strip()}" for p in sorted(HALTPOLL.iterdir()))
    return f"{os.cpu_count()} CPUs, cpuidle {idle['driver'] or '?'}: {states}{halt}; load average {loadavg()}"


def qos_available() -> str:
    """'' if the limit can be held here, else why not."""
    try:
        CpuDmaLatency(0).open().close()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


@contextlib.contextmanager
def tuning(name: str) -> Iterator[None]:
    """`default`: nothing; `qos0`: the CPU wake-up latency limit 0 held for the block; `haltpollNS`: the guest's
    halt polling limit set to NS ns for the block, then put back."""
    if name == "default":
        yield
    elif name == "qos0":
        with CpuDmaLatency(0):
            yield
    elif name.startswith("haltpoll"):
        knob = HALTPOLL / "guest_halt_poll_ns"
        old = knob.read_text().strip()
        knob.write_text(name[len("haltpoll"):])
        try:
            yield
        finally:
            knob.write_text(old)
    else:
        raise ValueError(f"tuning {name!r}: default, qos0 or haltpollNS")


def pin_trader() -> set[int] | None:
    """Pin this process to the last CPU it may use (as `tickgate run --cpu N`); the CPUs left for the simulator."""
    cpus = os.sched_getaffinity(0)
    last = max(cpus)
    os.sched_setaffinity(0, {last})
    print(f"pinned: this process on CPU {last}, the simulator on {sorted(cpus - {last}) or 'the same'}")
    return (cpus - {last}) or None


def tunings(haltpoll_ns: int | None) -> tuple[tuple[str, ...], str]:
    """The tunings this machine can take (with haltpoll cases if asked) and why any asked for is left out. A
    SIGTERM then ends the benchmark through its `finally` blocks, so a machine setting is always put back."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out, why = ["default"], []
    qos = qos_available()
    if qos:
        why.append(f"qos0 left out: cannot hold the limit: {qos}")
    else:
        out.append("qos0")
    if haltpoll_ns is not None:
        knob = HALTPOLL / "guest_halt_poll_ns"
        if os.access(knob, os.W_OK):
            out.append(f"haltpoll{haltpoll_ns}")
        else:
            why.append(f"haltpoll left out: {knob} is not writable here")
    return tuple(out), "; ".join(why)


def chosen_cases(cases: dict[str, T], spec: str, why: str) -> dict[str, T]:
    """Print the machine and what was left out; the cases whose name holds one of `spec`'s `;`-separated parts."""
    print(f"machine: {describe_machine()}")
    if why:
        print(f"cases left out: {why}")
    wanted = [w for w in spec.split(";") if w]
    return {c: v for c, v in cases.items() if not wanted or any(w in c for w in wanted)}


class Figures:
    """Per case, p50/p90/p99 (us) of each run; `line` prints a run, `table` the medians of runs."""

    def __init__(self) -> None:
        self.runs: dict[str, list[tuple[float, float, float]]] = {}

    def add(self, case: str, ns: np.ndarray, run: int) -> str:
        p50, p90, p99 = (float(np.percentile(ns, q)) / 1e3 for q in (50, 90, 99))
        self.runs.setdefault(case, []).append((p50, p90, p99))
        return (f"  run {run + 1} {case:34s} p50 {p50:7.2f}  p90 {p90:7.2f}  p99 {p99:7.2f}  max "
                f"{ns.max() / 1e3:8.1f}  load {loadavg()}")

    def median(self, case: str) -> tuple[float, float, float]:
        rs = self.runs[case]
        return tuple(statistics.median(r[i] for r in rs) for i in range(3))  # type: ignore[return-value]

    def table(self, labels: dict[str, str] | None = None) -> list[str]:
        out = []
        for case in self.runs:
            p50, p90, p99 = self.median(case)
            label = (labels or {}).get(case, case)
            out.append(f"  {label:58s} p50 {p50:7.2f}  p90 {p90:7.2f}  p99 {p99:7.2f}")
        return out

    def verdicts(self, cases: Iterable[str], p50_goal: float, p99_goal: float) -> list[str]:
        """Each measured case of `cases` against the goal p50 <= `p50_goal`, p99 <= `p99_goal` (us)."""
        out = []
        for case in cases:
            if case in self.runs:
                p50, _, p99 = self.median(case)
                out.append(f"  {case:34s} p50 {p50:6.2f} {'met' if p50 <= p50_goal else 'MISSED'}, p99 {p99:6.2f} "
                           f"{'met' if p99 <= p99_goal else 'MISSED'}")
        return out
