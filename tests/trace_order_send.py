"""Where the time of a fired order's `send` goes on loopback: kernel trace events inside each write (root).

Runs tests/bench_armed.py's `fire` case (the native path writes each fired Enter Order to the simulator over
loopback TCP) with a private ftrace instance (`/sys/kernel/tracing/instances/`, tracefs mounted if it is not)
recording, for the whole machine: `sendto` entry and exit, the loopback device queue and `netif_rx`, NET_RX
softirq entry and exit, the scheduler's waking, wakeup and switches, and IPIs. For each Enter Order write (the
50-byte `sendto` of the bench's process) it splits the time inside the system call into phases and prints their
medians and 90th percentiles:

- `to lo`: system call entry -> the packet queued on the loopback device (TCP and IP output);
- `rx to wake`: -> the simulator's process woken (TCP receive of the simulator's socket, run in our call);
- `wake`: waking -> woken (the scheduler's wake-up, an IPI if the target CPU is elsewhere and halted);
- `after`: -> the system call's return;
- `out after`: how long the process stays switched out when the scheduler takes the CPU on its way back to user
  space (the woken simulator, or another task), before the native path takes the write's time;

with how many writes woke the simulator, sent an IPI, or were switched out. Trace timestamps are the
`local` clock in microseconds, and tracing adds its own cost to each event: the phases are relative, not
the benchmark's figures.

    .venv/bin/python tests/trace_order_send.py [--samples 1000] [--sim-busy-poll] [--qos0]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bench_armed import SYMBOLS, one_run  # noqa: E402
from tests.latency_cases import describe_machine, tuning  # noqa: E402
from tickgate.host.exchange.sim import SimExchange  # noqa: E402

TRACEFS = Path("/sys/kernel/tracing")
EVENTS = ("syscalls/sys_enter_sendto", "syscalls/sys_exit_sendto", "net/net_dev_queue", "net/netif_rx",
          "irq/softirq_entry", "irq/softirq_exit", "sched/sched_waking", "sched/sched_wakeup", "sched/sched_switch",
          "ipi/ipi_send_cpu", "ipi/ipi_send_cpumask")
LINE = re.compile(r"^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+):\s+([A-Za-z_0-9]+)[:(\s]\s*(.*)$")
ENTER_ORDER = "len: 0x32"  # 50 bytes: an Enter Order in its SoupBinTCP packet


@contextlib.contextmanager
def instance(name: str):
    """A private ftrace instance with EVENTS on; its trace text is in the yielded list after the block."""
    if not (TRACEFS / "instances").is_dir():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], check=True)
    inst = TRACEFS / "instances" / name
    inst.mkdir(exist_ok=True)
    out: list[str] = []
    try:
        (inst / "buffer_size_kb").write_text("8192")
        for e in EVENTS:
            (inst / "events" / e / "enable").write_text("1")
        (inst / "tracing_on").write_text("1")
        yield out
        (inst / "tracing_on").write_text("0")
        out += (inst / "trace").read_text().splitlines()
    finally:
        (inst / "tracing_on").write_text("0")
        for e in EVENTS:
            (inst / "events" / e / "enable").write_text("0")
        inst.rmdir()


def phases(lines: list[str], pid: int) -> dict[str, list[float]]:
    """us of each phase of each Enter Order write of `pid`, and counts."""
    ev = []
    for line in lines:
        m = LINE.match(line)
        if m:
            ev.append((int(m.group(2)), int(m.group(3)), float(m.group(4)) * 1e6, m.group(5), m.group(6)))
    out: dict[str, list[float]] = {k: [] for k in ("total", "to lo", "rx to wake", "wake", "after", "out after")}
    counts = dict.fromkeys(("writes", "woke", "ipi", "switched", "preempted"), 0)
    i = 0
    while i < len(ev):
        p, cpu, t0, name, args = ev[i]
        if not (p == pid and name == "sys_sendto" and ENTER_ORDER in args):
            i += 1
            continue
        j, marks = i + 1, {}
        while j < len(ev) and not (ev[j][0] == pid and ev[j][3] == "sys_sendto" and ev[j][4].startswith("->")):
            _, c, t, n, _ = ev[j]
            if c == cpu:  # on our CPU: inside our call
                key = {"net_dev_queue": "lo", "sched_waking": "waking", "sched_wakeup": "woken",
                       "ipi_send_cpu": "ipi", "ipi_send_cpumask": "ipi", "sched_switch": "switch"}.get(n)
                if key and key not in marks and (key in ("lo", "switch") or "lo" in marks):  # after the packet
                    marks[key] = t
            j += 1
        if j == len(ev):
            break
        t1 = ev[j][2]
        counts["writes"] += 1
        counts["woke"] += "waking" in marks
        counts["ipi"] += "ipi" in marks
        counts["switched"] += "switch" in marks
        out["total"].append(t1 - t0)
        if "lo" in marks and "waking" in marks and "woken" in marks:
            out["to lo"].append(marks["lo"] - t0)
            out["rx to wake"].append(marks["waking"] - marks["lo"])
            out["wake"].append(marks["woken"] - marks["waking"])
            out["after"].append(t1 - marks["woken"])
        elif "lo" in marks:
            out["to lo"].append(marks["lo"] - t0)
            out["after"].append(t1 - marks["lo"])
        k = j + 1  # switched out on the way back to user space, before the write's time is taken?
        while k < len(ev) and ev[k][0] != pid and not (ev[k][1] == cpu and ev[k][3] == "sched_switch"):
            k += 1
        if k < len(ev) and ev[k][3] == "sched_switch" and f"prev_pid={pid} " in ev[k][4]:
            back = next((e for e in ev[k + 1:] if e[3] == "sched_switch" and f"next_pid={pid} " in e[4]), None)
            counts["preempted"] += 1
            if back is not None:
                out["out after"].append(back[2] - ev[k][2])
        i = j + 1
    out.update({k: [float(v)] for k, v in counts.items()})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1_000)
    ap.add_argument("--sim-busy-poll", action="store_true", help="the simulator spins instead of sleeping")
    ap.add_argument("--qos0", action="store_true", help="hold the CPU wake-up latency limit 0 meanwhile")
    ap.add_argument("--pin", action="store_true", help="this process on the last CPU, the simulator on the others")
    args = ap.parse_args()
    print(f"machine: {describe_machine()}")
    with tuning("qos0" if args.qos0 else "default"), SimExchange(busy_poll=args.sim_busy_poll) as sim:
        sim.set_symbols(SYMBOLS)
        if args.pin:
            last = max(os.sched_getaffinity(0))
            os.sched_setaffinity(sim.pid, os.sched_getaffinity(0) - {last})
            os.sched_setaffinity(0, {last})
        with instance(f"tickgate{os.getpid()}") as lines:
            ns = one_run(sim, args.samples, "fire")
    print(f"fire, sim {'spinning' if args.sim_busy_poll else 'asleep'}, {'qos0' if args.qos0 else 'default'}: "
          f"receive -> bytes written p50 {np.percentile(ns, 50) / 1e3:.2f} us (traced)")
    got = phases(lines, os.getpid())
    print("  writes {:.0f}, woke the simulator {:.0f}, sent an IPI {:.0f}, switched out inside {:.0f}, switched out "
          "on the way back {:.0f}".format(*(got[k][0] for k in ("writes", "woke", "ipi", "switched", "preempted"))))
    for k in ("total", "to lo", "rx to wake", "wake", "after", "out after"):
        v = got[k]
        if v:
            print(f"  {k:12s} p50 {np.percentile(v, 50):6.1f}  p90 {np.percentile(v, 90):6.1f} us  ({len(v)} writes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
