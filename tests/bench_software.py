"""Benchmark: the software backend (SoftwareCard, the C++ model of the card) next to itch-book, MeatPy and
the cocotb simulation, on one generated file, in one run.

Times, interleaved and as the median of `--repeat` runs: reading the file into MoldUDP64 packets
(BinaryFileFeed), packing them into DMA batches, SoftwareCard processing the batches and handing out
every event into the caller's array (also through the Device interface, SoftwareDevice), itch-book (C++
parse + book + BBO table) on the same file, MeatPy (pure Python reader + its one-instrument book processor)
on the file's first `--meatpy-messages` messages, and the decoder RTL under Verilator + cocotb
(`tickgate.sim.decoder_run`, the ITCH decoder stage only) on the packets holding its first
`--cocotb-messages` messages. Prints messages per second, the ratios, and whether the software card's
and itch-book's top-of-book streams are equal row for row.

    .venv/bin/python tests/bench_software.py [--messages 2000000] [--symbols 500] [--seed 7] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bench_model import feed_file  # noqa: E402
from tests.oracles import itchbook_bbo, model_bbo  # noqa: E402
from tickgate._driver import SoftwareCard, SoftwareDevice  # noqa: E402
from tickgate.host.feeds import BinaryFileFeed  # noqa: E402
from tickgate.protocol.events import EVENT_DTYPE  # noqa: E402
from tickgate.protocol.moldudp64 import pack_dma  # noqa: E402
from tickgate.protocol.packet import Packet  # noqa: E402


def pack_batches(packets: list[Packet], per_batch: int) -> list[np.ndarray]:
    """The packets as DMA batches of `per_batch` packets each (a DMA ring's worth at a time)."""
    return [np.frombuffer(pack_dma(packets[i:i + per_batch]), dtype=np.uint8)
            for i in range(0, len(packets), per_batch)]


def run_card(batches: list[np.ndarray], out: np.ndarray) -> tuple[float, int]:
    """Seconds to process every batch, taking the events of each into `out` after the last; how many."""
    t = time.perf_counter()
    card = SoftwareCard()
    pos = 0
    for batch in batches:
        card.feed_dma(batch)
        pos += card.take_events(out[pos:])
    if card.pending_events():
        raise RuntimeError(f"out holds {len(out):,} events, more were emitted")
    return time.perf_counter() - t, pos


def run_device(batches: list[np.ndarray], out: np.ndarray) -> float:
    """Seconds for the same work through the Device interface (SoftwareDevice.submit / collect)."""
    t = time.perf_counter()
    dev = SoftwareDevice()
    pos = 0
    for batch in batches:
        dev.submit(batch)
        pos += dev.collect(out[pos:])
    if dev.pending():
        raise RuntimeError(f"out holds {len(out):,} events, more were emitted")
    return time.perf_counter() - t


def file_prefix(path: Path, messages: int) -> Path:
    """The first `messages` messages of a BinaryFILE, ended by the zero-length marker (cached beside it)."""
    out = path.with_name(f"{path.stem}.first{messages}.itch50")
    if not out.exists():
        data = path.read_bytes()
        pos = 0
        for _ in range(messages):
            pos += 2 + int.from_bytes(data[pos:pos + 2], "big")
        out.write_bytes(data[:pos] + bytes(2))
    return out


def run_meatpy(path: Path) -> tuple[float, int, int]:
    """Seconds for MeatPy to read the file and run its book processor on every message; how many messages;
    how many price-time priority complaints it raised.

    MeatPy's ITCH50MarketProcessor keeps the book of one instrument (its design): the first symbol of the
    stock directory. Price-time priority complaints are caught as tests/oracle_meatpy.py does.
    """
    import datetime

    from meatpy.itch50 import ITCH50MarketProcessor, ITCH50MessageReader
    from meatpy.itch50.itch50_market_message import StockDirectoryMessage
    from meatpy.lob import ExecutionPriorityExceptionList

    t = time.perf_counter()
    n, processor, complaints = 0, None, 0
    messages = ITCH50MessageReader().read_file(path)
    while True:
        try:
            message = next(messages)
        except StopIteration:
            break
        except ValueError as e:
            if str(e) == "Empty message data":  # the BinaryFILE end-of-session marker
                break
            raise
        n += 1
        if processor is None and isinstance(message, StockDirectoryMessage):
            processor = ITCH50MarketProcessor(message.stock.decode().strip(), datetime.datetime(2000, 1, 3))
        if processor is not None:
            try:
                processor.process_message(message)
            except ExecutionPriorityExceptionList as e:
                complaints += len(e.args[1])
    return time.perf_counter() - t, n, complaints


def cocotb_stimulus(packets: list[Packet], messages: int):
    """The decoder-stage stimulus of the first packets holding at least `messages` messages."""
    from tickgate.sim.decoder_run import stimulus_from_packets

    n, k = 0, 0
    while n < messages and k < len(packets):
        n += int.from_bytes(packets[k].payload[18:20], "big")
        k += 1
    return stimulus_from_packets(p.payload for p in packets[:k])


def run_cocotb(stim) -> tuple[float, float, int]:
    """(seconds of the simulation loop, seconds of the whole call, mismatches) of the decoder RTL under
    Verilator + cocotb; the build is cached (build/sim/) and made before the first timed run."""
    from tickgate.sim.decoder_run import run

    t = time.perf_counter()
    result = run(stim)
    return result.wall_seconds, time.perf_counter() - t, len(result.mismatches)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2_000_000)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-packets", type=int, default=1024, help="packets per DMA batch")
    ap.add_argument("--meatpy-messages", type=int, default=200_000,
                    help="MeatPy runs on this prefix of the file (it manages tens of thousands of msgs/s)")
    ap.add_argument("--cocotb-messages", type=int, default=20_000, help="cocotb runs on this prefix")
    args = ap.parse_args()

    path = feed_file(args.messages, args.symbols, args.seed)
    n = args.messages
    read_s, pack_s, card_s, dev_s, book_s, meat_s, sim_s, sim_call_s = [], [], [], [], [], [], [], []
    out = np.zeros(3 * n, dtype=EVENT_DTYPE)  # the caller's event memory, at most 3 events a message
    out.view(np.uint8)[::4096] = 1  # touched: no page faults inside the timed runs
    meat_path = file_prefix(path, min(args.meatpy_messages, n))
    stim = cocotb_stimulus(list(itertools.islice(BinaryFileFeed(path), args.cocotb_messages)), args.cocotb_messages)
    run_cocotb(stim)  # builds the simulator if it is not cached yet (build/sim/), untimed
    for _ in range(args.repeat):  # interleaved, so all see the same machine load
        t = time.perf_counter()
        packets: list[Packet] = list(BinaryFileFeed(path))
        read_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        batches = pack_batches(packets, args.batch_packets)
        pack_s.append(time.perf_counter() - t)
        dev_s.append(run_device(batches, out))
        seconds, count = run_card(batches, out)  # after the device: `out` keeps the card's events
        card_s.append(seconds)
        t = time.perf_counter()
        theirs, stats = itchbook_bbo(path)
        book_s.append(time.perf_counter() - t)
        seconds_mp, meat_n, complaints = run_meatpy(meat_path)
        meat_s.append(seconds_mp)
        loop, call, mismatches = run_cocotb(stim)
        sim_s.append(loop)
        sim_call_s.append(call)
    events = out[:count]
    ours = model_bbo(events)
    equal = len(ours) == len(theirs) and bool(np.array_equal(ours, theirs))

    r, p, c, b, d = (statistics.median(x) for x in (read_s, pack_s, card_s, book_s, dev_s))
    mp, sim, sim_call = (statistics.median(x) for x in (meat_s, sim_s, sim_call_s))
    print(f"file: {path.name}, {n:,} messages, {args.symbols} symbols, {len(packets):,} packets in "
          f"{len(batches)} DMA batches of {sum(map(len, batches)) / len(batches) / 1e6:.2f} MB, "
          f"median of {args.repeat} runs")
    print(f"{'stage':<44}{'median s':>10}{'msgs/s':>14}")
    print(f"{'file -> packets (BinaryFileFeed, Python)':<44}{r:>10.3f}{n / r:>14,.0f}")
    print(f"{'packets -> DMA batch (pack_dma, Python)':<44}{p:>10.3f}{n / p:>14,.0f}")
    print(f"{'SoftwareCard (feed_dma + take_events)':<44}{c:>10.3f}{n / c:>14,.0f}")
    print(f"{'SoftwareCard incl. pack':<44}{p + c:>10.3f}{n / (p + c):>14,.0f}")
    print(f"{'SoftwareCard incl. read and pack':<44}{r + p + c:>10.3f}{n / (r + p + c):>14,.0f}")
    print(f"{'SoftwareDevice (Device: submit + collect)':<44}{d:>10.3f}{n / d:>14,.0f}")
    print(f"{'itch-book (C++ core, bbo table, from file)':<44}{b:>10.3f}{n / b:>14,.0f}")
    mp_label = f"MeatPy (reader + 1-symbol book), first {meat_n:,}"
    print(f"{mp_label:<44}{mp:>10.3f}{meat_n / mp:>14,.0f}")
    sim_n = stim.messages
    sim_label = f"cocotb + Verilator, decoder stage, {sim_n:,}"
    print(f"{sim_label:<44}{sim:>10.3f}{sim_n / sim:>14,.0f}")
    print(f"{'  the same incl. process start and scoring':<44}{sim_call:>10.3f}{sim_n / sim_call:>14,.0f}")
    print(f"ratio SoftwareCard / itch-book: {b / c:.2f} (card alone), {b / (p + c):.2f} (incl. pack), "
          f"{b / (r + p + c):.2f} (incl. read and pack)")
    print(f"ratio SoftwareCard / MeatPy: {(n / c) / (meat_n / mp):.1f} (card alone), "
          f"{(n / (r + p + c)) / (meat_n / mp):.1f} (incl. read and pack)")
    print(f"MeatPy: book of {meat_path.name}'s first symbol; priority complaints caught: {complaints}")
    print(f"ratio SoftwareCard / cocotb decoder: {(n / c) / (sim_n / sim):.0f}; cocotb decoder mismatches: "
          f"{mismatches}")
    print(f"events: {len(events):,}; top of book: {len(ours):,} rows (SoftwareCard), {len(theirs):,} rows "
          f"(itch-book), equal: {equal}; itch-book missing refs {stats['missing_ref']}, "
          f"crossed books {stats['crossed_books']}")
    return 0 if equal and not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
