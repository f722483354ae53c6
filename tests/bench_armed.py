"""Benchmark: armed orders, packet receive -> OUCH bytes written, the software card to the exchange simulator.

Each sample is one 72-byte MoldUDP64 packet (one Add Order: `pack_messages(max_payload=72)`) handed to the C++
software card the way the run loop's tick does (`Device.submit_packet(packet, rx, out)`, `rx` the receive
time stamped just before, as `tickgate run` stamps a file's packets). The packet changes the top of book of a
symbol with an armed rule (bid at or above 1, once): the card emits BBO then FIRE, and the native order path,
attached to the device (`Device.attach_orders`), checks risk and writes the Enter Order on the SoupBinTCP
socket to the simulator (its own process) over loopback, inside that call. The latency is the path's
`send_ns - rx` of the fire: receive -> bytes written, each sample exact. The order is immediate-or-cancel
away from the touch (accepted, then canceled: no position builds); its updates are drained and the rule is
armed again (nine register writes from Python) before the next sample, outside the timed span.

Cases, side by side in one run (`--cases A;B` picks some), each with p50/p90/p99 of every run (and the load
average after it) and the medians of runs:

- `fire`: each order's updates are drained and the next packet sent at once, as tests/bench_orders.py does: the
  simulator is often still on its way back to sleep, and the write's wake-up of it waits for that. `idle`: 200 us
  more before each packet (the simulator asleep in `select`, as for a sparse order flow). On loopback the kernel
  runs the receiver's side (TCP receive, the simulator's wake-up) inside the sender's `send`.
- `sim asleep`: the simulator as `tickgate run --exchange sim` starts it; `sim spinning`: `SimExchange(busy_poll=
  True)` (`--sim-busy-poll`), its loop never sleeps, so no wake-up is paid in the write.
- `default`: the machine as it is; `qos0`: the CPU wake-up latency limit held at 0 (`/dev/cpu_dma_latency`,
  `tickgate run --cpu-dma-latency 0`): idle CPUs poll, so waking one needs no interrupt (in a VM, no exit);
  `haltpollNS` (`--haltpoll-ns NS`, root): the guest's halt polling set to NS for the case, then put back.
- `awake reader`: the same fired order written over loopback TCP to a reader that spins on a non-blocking recv
  (no wake-up to pay; what a send costs when the peer is another machine), without the simulator or a session.
- `card only`: the same packets with no rule armed (receive -> events collected, the card's part); `refused by
  risk`: a rule whose fire risk refuses (the card + the path's risk, nothing written).

The goal is judged on `fire, sim asleep` (default, and qos0 beside it).

    .venv/bin/python tests/bench_armed.py [--samples 5000] [--runs 5] [--cases "fire;card"] [--haltpoll-ns 200000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.latency_cases import Figures, chosen_cases, loadavg, pin_trader, tuning, tunings  # noqa: E402
from tickgate._driver import OrderPath, SoftwareDevice  # noqa: E402
from tickgate.host.exchange.sim import SimExchange  # noqa: E402
from tickgate.host.feeds.files import pack_messages  # noqa: E402
from tickgate.host.market import Directory, TopOfBook  # noqa: E402
from tickgate.host.metrics import Metrics  # noqa: E402
from tickgate.host.orders.native import NativeOuchGateway, make_risk  # noqa: E402
from tickgate.host.risk import RiskLimits  # noqa: E402
from tickgate.host.strategy.orders import make_router  # noqa: E402
from tickgate.protocol import itch  # noqa: E402
from tickgate.protocol.events import EVENT_DTYPE  # noqa: E402
from tickgate.protocol.registers import REGISTER_MAP  # noqa: E402
from tickgate.protocol.rules import PriceMode, Rule, RuleCondition, rule_writes  # noqa: E402

SYMBOLS = {1: "AAPL"}
LIMITS = RiskLimits(max_orders_per_s=1e9, max_position=10**9, max_total_position=10**9, max_notional=1e12)
BID = 1_000_000


def packets(n: int) -> list[bytes]:
    """n one-message packets of 72 bytes at most: a bid at BID (each adds size at the best: a BBO event)."""
    msgs = (itch.encode(itch.make("A", stock_locate=1, timestamp=i, order_reference_number=i, buy_sell_indicator="B",
                                  shares=100, stock="AAPL", price=BID)) for i in range(1, n + 1))
    out = list(pack_messages(msgs, max_payload=72))
    assert len(out) == n and max(map(len, out)) <= 72
    return out


def one_run(sim: SimExchange, n: int, mode: str) -> np.ndarray:
    """ns of each sample: receive -> bytes written (`fire`), -> events collected (`card`, `refused`)."""
    gw = NativeOuchGateway.connect(*sim.address, sim.username, sim.password)
    limits = LIMITS if mode != "refused" else RiskLimits(max_order_shares=1)
    risk = make_risk(limits, gw)
    router = make_router(gw, risk, Directory(SYMBOLS), TopOfBook(), Metrics())
    device = SoftwareDevice()
    router.attach(device)
    path, out, now = gw.path, np.zeros(16, dtype=EVENT_DTYPE), time.perf_counter_ns
    ns = np.zeros(n, dtype=np.int64)
    for i, p in enumerate(packets(n)):
        if mode != "card":
            router.arm(0, "AAPL", "bid_at_or_above", 1, "B", 100, BID - 100, tif="3")
        if mode == "idle":
            until = now() + 200_000
            while now() < until:
                pass
        rx = now()
        k = device.submit_packet(p, rx, out)
        t = now()
        if k != (1 if mode == "card" else 2):
            raise RuntimeError(f"{mode}: {k} events for packet {i}")
        if mode in ("fire", "idle"):
            (fire,) = path.take_fires()
            token, send_ns = fire[2], fire[12]
            if fire[3] != token:
                raise RuntimeError(f"fire not sent: {fire}")
            ns[i] = send_ns - rx
            done, deadline = 0, time.monotonic() + 5
            while done < 2:  # accepted, then canceled (immediate or cancel, away from the touch)
                for u in gw.poll():
                    risk.on_update(u)
                    done += u.token == token
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no updates for order {token}: {gw.counters}")
        else:
            if mode == "refused" and path.take_fires()[0][3] != -2:
                raise RuntimeError("the fire was not refused")
            ns[i] = t - rx
    gw.close()
    return ns


def awake_run(n: int, cpus: set[int] | None = None) -> np.ndarray:
    """ns of each fired order, receive -> bytes written, to a loopback TCP reader that never sleeps."""
    srv = socket.create_server(("127.0.0.1", 0))
    child = os.fork()
    if child == 0:  # the reader: spins on a non-blocking recv until the sender closes (on `cpus` if given)
        if cpus:
            os.sched_setaffinity(0, cpus)
        conn = socket.create_connection(srv.getsockname())
        conn.setblocking(False)
        with contextlib.suppress(OSError):
            while True:
                with contextlib.suppress(BlockingIOError):
                    if not conn.recv(1 << 16):
                        break
        os._exit(0)
    ours, _ = srv.accept()
    srv.close()
    ours.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ours.setblocking(False)
    path = OrderPath(LIMITS)
    path.set_symbol(1, "AAPL")
    path.active = True
    path.writer.attach(ours.fileno())
    device = SoftwareDevice()
    device.attach_orders(path)
    writes = [(REGISTER_MAP[k].offset, v) for k, v in
              rule_writes(0, Rule(1, RuleCondition.BID_AT_OR_ABOVE, 1, "B", 100, BID - 100, PriceMode.FIXED, "3"))]
    out, now = np.zeros(16, dtype=EVENT_DTYPE), time.perf_counter_ns
    ns = np.zeros(n, dtype=np.int64)
    for i, p in enumerate(packets(n)):
        for offset, value in writes:
            device.write_register(offset, value)
        rx = now()
        device.submit_packet(p, rx, out)
        (fire,) = path.take_fires()
        if fire[3] != fire[2]:
            raise RuntimeError(f"fire not sent: {fire}")
        ns[i] = fire[12] - rx
        path.on_update(3, fire[2], 1, "B", 100, BID - 100)  # canceled: nothing stays open
    ours.close()
    os.waitpid(child, 0)
    return ns


def cases_of(tunes: tuple[str, ...]) -> dict[str, tuple[str, bool, str]]:
    """case -> (mode, the simulator busy-polls, tuning)."""
    return {
        **{f"fire, sim {ex}, {t}": ("fire", ex == "spinning", t) for ex in ("asleep", "spinning") for t in tunes},
        **{f"idle, sim {ex}, {t}": ("idle", ex == "spinning", t) for ex in ("asleep", "spinning") for t in tunes},
        **{f"awake reader, {t}": ("awake", False, t) for t in tunes},
        "card only, default": ("card", False, "default"),
        "refused by risk, default": ("refused", False, "default"),
    }


GOAL_CASES = ("fire, sim asleep, default", "fire, sim asleep, qos0")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=5_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cases", default="", help="only the cases whose name contains one of these (separated by ;)")
    ap.add_argument("--haltpoll-ns", type=int, metavar="NS",
                    help="add cases with the guest's halt polling at NS ns (root, cpuidle haltpoll; put back after)")
    ap.add_argument("--pin", action="store_true",
                    help="this process on the last CPU and the simulator on the others (tickgate run --cpu N)")
    args = ap.parse_args()
    tunes, why = tunings(args.haltpoll_ns)
    sim_cpus = pin_trader() if args.pin else None
    print(f"armed order, 72-byte packet receive -> OUCH bytes written, software card, simulator over loopback; "
          f"{args.samples:,} samples a run, {args.runs} runs (us)")
    cases = chosen_cases(cases_of(tunes), args.cases, why)
    figures = Figures()
    for run in range(args.runs):
        for case, (mode, spin, tune) in cases.items():
            with tuning(tune):
                if mode == "awake":
                    ns = awake_run(args.samples, sim_cpus)
                else:
                    with SimExchange(busy_poll=spin, cpus=sim_cpus) as sim:
                        sim.set_symbols(SYMBOLS)
                        ns = one_run(sim, args.samples, mode)
            print(figures.add(case, ns, run), flush=True)
    print(f"median of runs (load average now {loadavg()}):")
    print("\n".join(figures.table()))
    print("goal (fired, to the simulator): p50 <= 5, p99 <= 20; judged on 'fire, sim asleep' (the simulator as "
          "`tickgate run --exchange sim` starts it), default and qos0 (`--cpu-dma-latency 0`) both shown:")
    print("\n".join(figures.verdicts(GOAL_CASES, 5, 20)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
