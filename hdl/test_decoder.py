"""The decoder on real captures and generated streams: records and counters equal the reference model's,
one beat accepted every cycle on well-formed input, and the latency from last byte to record."""

import gc
import random
import statistics
import warnings
from pathlib import Path

import pytest
from amaranth.hdl import UnusedElaboratable

from tickgate.host.feeds import PcapFeed, pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.protocol import itch
from tickgate.protocol.itch_spec import MESSAGES
from tickgate.protocol.moldudp64 import blocks
from tickgate.sim.simulate import DecoderRun, check_against_reference, message_latencies, packet, random_message

from .decoder import DECODER_COUNTERS, DecoderCounters, ItchDecoder

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
CAPTURES = sorted((SHARED / "data" / "pcap").glob("*Itch*/*.pcap"))


def _captured() -> list[bytes]:
    if not CAPTURES:
        pytest.fail(f"no ITCH captures under {SHARED / 'data' / 'pcap'}: shared/ must sit beside the repository")
    return [pkt.payload for path in CAPTURES for pkt in PcapFeed(path)]


def _full_rate(pkts: list[bytes]) -> tuple[DecoderRun, list[int]]:
    """Run at full rate (input always valid, output always ready), assert no stall; the run and latencies."""
    run = check_against_reference(pkts)
    assert run.stalls == 0, f"i.ready went low {run.stalls} times on a well-formed stream"
    assert run.cycles - 8 <= sum(len(b) for b in run.beat_cycles) + 3  # one beat a cycle, then the pipeline
    return run, message_latencies(pkts, run)


def _report(name: str, lat: list[int]) -> str:
    return f"{name}: {len(lat)} records, latency min {min(lat)} median {statistics.median(lat)} max {max(lat)} cycles"


def test_real_captures_as_captured():
    """Every captured packet in one stream: sessions lock, other sessions drop, zeroed headers repeat."""
    run = check_against_reference(_captured(), seed=1, valid_rate=0.8, ready_rate=0.8)
    assert run.counters["packets"] == len(_captured())
    assert run.counters["packets_wrong_session"] > 0 and run.counters["messages"] > 0


def test_real_messages_repacked():
    """Every captured ITCH message, re-packed into one session, decoded (all 16 types the captures hold)."""
    msgs = [m for p in _captured() for m in blocks(p)]
    pkts = list(pack_messages(msgs, max_payload=160)) + list(pack_messages(msgs, first_sequence=len(msgs) + 1))
    run = check_against_reference(pkts, seed=2, valid_rate=0.9, ready_rate=0.7)
    assert run.counters["messages"] == 2 * len(msgs) == 2 * 227
    assert run.counters["msg_bad_length"] == run.counters["msg_unknown_type"] == 0


def test_generated_stream_full_rate(capsys):
    """A seeded synthetic day at full rate: no back-pressure and a latency of three cycles."""
    msgs = list(generate(2000, 30, 7))
    pkts = list(pack_messages(msgs, max_payload=1400)) + list(
        pack_messages(msgs, max_payload=97, first_sequence=len(msgs) + 1))
    run, lat = _full_rate(pkts)
    with capsys.disabled():
        print("\n" + _report("generated", lat) + f"; {sum(map(len, run.beat_cycles))} beats in {run.cycles} cycles")
    assert statistics.median(lat) <= 6
    assert max(lat) == 3


def test_back_to_back_deletes_full_rate(capsys):
    """21-byte blocks back to back start at every lane, their prefixes straddling beats: still no stall."""
    rng = random.Random(8)
    deletes = [itch.encode(itch.make("D", stock_locate=rng.randrange(1 << 16), timestamp=rng.randrange(1 << 48),
                                     order_reference_number=rng.randrange(1 << 64))) for _ in range(1500)]
    pkts = list(pack_messages(deletes, max_payload=1400)) + list(
        pack_messages(deletes, max_payload=20 + 21 * 5, first_sequence=1501))
    _, lat = _full_rate(pkts)
    with capsys.disabled():
        print("\n" + _report("deletes", lat))
    assert max(lat) == 3


def test_every_type_full_rate():
    """All 23 types with random contents in random order, so every type starts at every lane: no stall."""
    rng = random.Random(9)
    types = [m.type for m in MESSAGES]
    pkts, seq = [], 1
    for _ in range(60):
        msgs = [random_message(rng, rng.choice(types)) for _ in range(rng.randrange(1, 9))]
        pkts.append(packet(seq, msgs))
        seq += len(msgs)
    run, lat = _full_rate(pkts)
    assert max(lat) == 3
    assert all(run.counters[f"type_{t}"] for t in types)


@pytest.mark.parametrize(("depth", "messages", "ready_rate"), [(2, 1500, 0.2), (5, 400, 0.1)])
def test_random_flow_control(depth, messages, ready_rate):
    """Input gaps and output back-pressure (seeded): nothing lost, nothing reordered, with either queue."""
    msgs = list(generate(messages, 20, 11))
    pkts = list(pack_messages(msgs, max_payload=300))
    run = check_against_reference(pkts, seed=11, valid_rate=0.6, ready_rate=ready_rate,
                                  dut=ItchDecoder(output_depth=depth))
    assert run.stalls > 0  # the output stalls did reach the input


def test_counters_are_the_register_map_names():
    from tickgate.protocol.registers import counter_names

    assert set(DECODER_COUNTERS) <= set(counter_names())
    assert {f"type_{m.type}" for m in MESSAGES} <= set(DECODER_COUNTERS)
    assert set(DecoderCounters.members) == set(DECODER_COUNTERS)


@pytest.mark.parametrize("depth", [0, 1, -3, 2.5, True, "4"])
def test_bad_parameters(depth):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)  # the refused component is never elaborated
        with pytest.raises((TypeError, ValueError), match="output_depth"):
            ItchDecoder(output_depth=depth)
        gc.collect()

