"""The shared-memory event ring: readers in other processes (Python and the C++ example), exact missed counts,
producer restarts, readers started mid-stream, and the run loop's --shm."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from tickgate.host.backend import open_backend
from tickgate.host.exchange.paper import PaperExchange
from tickgate.host.feeds.sources import GeneratedFeed
from tickgate.host.run import Runner, RunOptions
from tickgate.host.shm import ShmPublisher, ShmSubscriber, reader_program, segment_path
from tickgate.host.strategy import Strategy
from tickgate.protocol import shm_ring
from tickgate.protocol.events import EVENT_DTYPE, EventKind

# A Python reader in another process: reads until the ring is closed and drained, prints one JSON line.
PY_READER = """
import json, sys
from tickgate.host.shm import ShmSubscriber
sub = ShmSubscriber.open(sys.argv[1], start=sys.argv[2])
print(json.dumps({"ready": True}), flush=True)
seqs, ended = [], False
while True:
    b = sub.poll()
    if len(b):
        seqs += b["seq"].tolist()
    elif sub.closed:
        if ended:
            break
        ended = True
print(json.dumps({"received": len(seqs), "missed": sub.missed, "restarts": sub.restarts,
                  "first_seq": seqs[0] if seqs else 0, "last_seq": seqs[-1] if seqs else 0,
                  "breaks": sum(b != a + 1 for a, b in zip(seqs, seqs[1:]))}), flush=True)
"""


@pytest.fixture
def name():
    n = f"tickgate-test-{uuid.uuid4().hex[:12]}"
    yield n
    segment_path(n).unlink(missing_ok=True)


def records(first: int, n: int) -> np.ndarray:
    ev = np.zeros(n, EVENT_DTYPE)
    ev["kind"] = EventKind.BBO
    ev["seq"] = np.arange(first, first + n)
    ev["bid_px"] = ev["seq"] % 1000
    return ev


def start_reader(kind: str, name: str, *args: str) -> subprocess.Popen:
    cmd = ([str(reader_program()), name, *args] if kind == "cpp"
           else [sys.executable, "-c", PY_READER, name, *(args or ("newest",))])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert json.loads(p.stdout.readline()) == {"ready": True}
    return p


def result(p: subprocess.Popen) -> dict:
    assert p.wait(timeout=30) == 0
    out = p.stdout.read()  # (not communicate(): it reads past what readline() buffered)
    return json.loads(out.strip().splitlines()[-1])


def test_the_layout_is_generated_from_one_table():
    assert shm_ring.HEADER_DTYPE.itemsize == shm_ring.HEADER_BYTES == 4096
    assert shm_ring.RECORD_SIZE == EVENT_DTYPE.itemsize == 64
    offsets = {n: o for n, (_, o, *_) in shm_ring.HEADER_DTYPE.fields.items()}
    assert offsets["producer"] // 64 != offsets["info"] // 64  # the producer index alone on its line
    assert shm_ring.CONSUMER_DTYPE.itemsize == shm_ring.CACHE_LINE
    assert shm_ring.segment_bytes(1024) == 4096 + 1024 * 64
    with pytest.raises(ValueError, match="power of two of at least 2 records, not 1000"):
        shm_ring.check_capacity(1000)


def test_one_producer_two_readers_in_other_processes(name):
    pub = ShmPublisher(name, 1 << 13)
    readers = [start_reader("cpp", name), start_reader("py", name)]
    assert pub.producer.readers == 2
    total = 6000
    for first in range(1, total + 1, 50):  # batches as the run loop delivers them
        pub.publish(records(first, 50))
    pub.close()
    for r in map(result, readers):
        assert r["received"] == total and r["missed"] == 0
        assert (r["first_seq"], r["last_seq"], r["breaks"]) == (1, total, 0)


@pytest.mark.parametrize("kind", ["cpp", "py"])
def test_a_reader_left_behind_is_told_exactly_how_many_it_missed(name, kind):
    cap = 256
    pub = ShmPublisher(name, cap)
    reader = start_reader(kind, name)
    reader.send_signal(signal.SIGSTOP)  # it falls behind: the producer goes on regardless
    try:
        total = 3 * cap + 37
        for first in range(1, total + 1, 100):
            pub.publish(records(first, min(100, total + 1 - first)))
    finally:
        reader.send_signal(signal.SIGCONT)
    pub.close()
    r = result(reader)
    assert r["missed"] == total - cap and r["received"] == cap
    assert (r["first_seq"], r["last_seq"], r["breaks"]) == (total - cap + 1, total, 0)


STRESS_READER = """
import json, sys
import numpy as np
from tickgate.host.shm import ShmSubscriber
sub = ShmSubscriber.open(sys.argv[1], start="oldest")
print(json.dumps({"ready": True}), flush=True)
received = torn = skipped = 0
last, ended = 0, False
while True:
    b = sub.poll()
    if len(b):
        seq = b["seq"].astype(np.int64)
        torn += int(np.count_nonzero((b["ts_exch"] != b["seq"] * 3) | (b["bid_px"] != b["seq"] % 1000)))
        prev = np.concatenate(([last], seq[:-1]))
        skipped += int((seq - prev - 1).sum())
        last = int(seq[-1])
        received += len(b)
    elif sub.closed:
        if ended:
            break
        ended = True
print(json.dumps({"received": received, "missed": sub.missed, "skipped": skipped, "torn": torn}), flush=True)
"""


def test_readers_racing_the_producer_get_whole_records_and_count_every_one_missed(name):
    """A small ring overwritten under readers that poll while it is written: no torn record is returned, and the
    records jumped over are exactly the ones counted missed."""
    pub = ShmPublisher(name, 64)
    cpp = start_reader("cpp", name, "--oldest")
    py = subprocess.Popen([sys.executable, "-c", STRESS_READER, name], stdout=subprocess.PIPE, text=True)
    assert json.loads(py.stdout.readline()) == {"ready": True}
    total, batch = 100_000, 7
    ev = records(1, total)
    ev["ts_exch"] = ev["seq"] * 3
    for k, i in enumerate(range(0, total, batch)):
        pub.publish(ev[i:i + batch])
        if k % 32 == 0:
            time.sleep(0)  # let the readers in now and then: many polls, some racing an overwrite
    pub.close()
    r = result(cpp)
    assert r["received"] + r["missed"] == total and r["skipped"] == r["missed"] and r["received"] > 0
    p = result(py)
    assert p["torn"] == 0 and p["received"] + p["missed"] == total and p["skipped"] == p["missed"]


def test_missed_counts_in_process_and_batches_larger_than_the_ring(name):
    pub = ShmPublisher(name, 8)
    sub = ShmSubscriber.open(name)
    pub.publish(records(1, 5))
    assert sub.poll()["seq"].tolist() == [1, 2, 3, 4, 5] and sub.missed == 0
    pub.publish(records(6, 20))  # one batch past the capacity: its last 8 are kept
    assert sub.poll()["seq"].tolist() == list(range(18, 26)) and sub.missed == 12
    assert len(sub.poll()) == 0 and sub.next == pub.producer.head == 25
    slot = next(c for c in sub.header["consumers"] if c["pid"] == os.getpid())
    assert (int(slot["next"]), int(slot["missed"])) == (25, 12)  # its progress, on its own line
    sub.close()
    pub.close()


def test_readers_started_mid_stream(name):
    pub = ShmPublisher(name, 64)
    pub.publish(records(1, 100))
    newest, oldest = ShmSubscriber.open(name), ShmSubscriber.open(name, start="oldest")
    assert len(newest.poll()) == 0
    assert oldest.poll()["seq"].tolist() == list(range(37, 101)) and oldest.missed == 0
    r = result(start_reader("cpp", name, "--oldest", "--count", "64"))
    assert (r["received"], r["missed"], r["first_seq"], r["last_seq"], r["breaks"]) == (64, 0, 37, 100, 0)
    pub.publish(records(101, 10))
    assert newest.poll()["seq"].tolist() == list(range(101, 111)) and newest.missed == 0
    pub.close()


def test_producer_restart_continues_the_sequence_and_readers_follow(name):
    pub = ShmPublisher(name, 64)
    sub = ShmSubscriber.open(name)
    pub.publish(records(1, 10))
    with pytest.raises(RuntimeError, match="has a live producer already"):
        ShmPublisher(name, 64)
    pub.close()
    assert sub.closed and sub.poll()["seq"].tolist() == list(range(1, 11))
    again = ShmPublisher(name, 64)  # same layout: taken over, indices continue
    assert again.producer.reopened and again.producer.epoch == 2 and again.producer.head == 10
    assert not sub.closed and len(sub.poll()) == 0 and sub.restarts == 1
    again.publish(records(11, 5))
    assert sub.poll()["seq"].tolist() == list(range(11, 16)) and sub.missed == 0
    again.close()


def test_a_killed_producer_is_taken_over_and_a_new_layout_makes_readers_reopen(name):
    code = ("import sys, time, numpy as np\nfrom tickgate.host.shm import ShmPublisher\n"
            "from tickgate.protocol.events import EVENT_DTYPE\n"
            "p = ShmPublisher(sys.argv[1], 32)\ne = np.zeros(7, EVENT_DTYPE)\ne['seq'] = np.arange(1, 8)\n"
            "p.publish(e)\nprint('up', flush=True)\ntime.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code, name], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "up"
    sub = ShmSubscriber.open(name, start="oldest")
    child.kill()  # no close: the segment says LIVE, but the producer lock died with the process
    child.wait()
    pub = ShmPublisher(name, 32)
    assert pub.producer.reopened and pub.producer.head == 7
    pub.publish(records(8, 2))
    assert sub.poll()["seq"].tolist() == list(range(1, 10))
    pub.close()
    bigger = ShmPublisher(name, 128)  # another capacity: the old segment is marked stale and replaced
    assert not bigger.producer.reopened and sub.stale
    fresh = ShmSubscriber.open(name, start="oldest")
    bigger.publish(records(1, 3))
    assert fresh.capacity == 128 and fresh.poll()["seq"].tolist() == [1, 2, 3]
    bigger.close()


def test_names_and_missing_segments_are_refused_clearly(name):
    with pytest.raises(ValueError, match="letters, digits"):
        ShmPublisher("a/b", 8)
    with pytest.raises(FileNotFoundError, match="is the producer running"):
        ShmSubscriber.open(name)
    with pytest.raises(ValueError, match="power of two"):
        ShmPublisher(name, 100)


class Keep(Strategy):
    name = "keep"

    def on_start(self) -> None:
        self.seen: list[np.ndarray] = []

    def on_events(self, batch: np.ndarray) -> None:
        self.seen.append(batch.copy())


def test_the_run_loop_publishes_every_event_it_delivers(name):
    strat, ex = Keep(), PaperExchange()
    r = Runner(list(GeneratedFeed(5_000, 20, 4)), open_backend("software"), strat, ex, exchange=ex,
               options=RunOptions(shm=name, shm_records=1 << 14, drain_s=0.0))
    sub = ShmSubscriber.open(name, max_batch=1 << 14)
    try:
        s = r.run()
    finally:
        r.close()
    seen = np.concatenate(strat.seen)
    got = sub.poll()
    assert sub.closed and len(got) == s["events"] == len(seen) > 1000
    assert got.tobytes() == seen.tobytes()
    assert s["counters"]["shm_published"] == len(seen)
