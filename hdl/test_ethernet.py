"""EthernetFrontEnd in Amaranth's simulator, checked frame by frame and counter by counter against the
reference (`tickgate.model.frontend`): real captures, every rule, random frames, line rate, latency,
stream rules, Verilog conversion and Verilator lint."""

import gc
import random
import warnings
from dataclasses import dataclass, field

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from tickgate.hdl.ethernet import ETH_COUNTERS, EthernetFrontEnd
from tickgate.model.frontend import ETH_COUNTERS as REFERENCE_COUNTERS
from tickgate.model.frontend import ReferenceFrontEnd
from tickgate.model.test_frontend import (
    CAPTURES,
    DST,
    capture_frames,
    crafted_frames,
    fix_ip_checksum,
    make_frame,
    random_frames,
)
from tickgate.protocol.pcap import read_pcap
from tickgate.protocol.registers import counter_names

BEAT = 8
DRAIN_CYCLES = 12  # idle output cycles after the last input beat that end a run


@dataclass
class Run:
    """What came out of one simulation, and when (cycle numbers count clock edges from 0)."""

    packets: list[bytes] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    in_cycles: list[list[int]] = field(default_factory=list)  # per frame, the cycle each beat went in
    out_cycles: list[tuple[int, int]] = field(default_factory=list)  # per packet, first and last beat out
    input_stalls: int = 0  # cycles with i.valid high and i.ready low
    cycles: int = 0


def beats(frame: bytes) -> list[dict[str, int]]:
    return [{"data": int.from_bytes(frame[i : i + BEAT], "little"), "nbytes": len(frame[i : i + BEAT]),
             "last": int(i + BEAT >= len(frame))} for i in range(0, len(frame), BEAT)]


def simulate(frames: list[bytes], *, dst_ip: int | None = None, dst_port: int | None = None, gaps: float = 0.0,
             stalls: float = 0.0, seed: int = 0, max_cycles: int | None = None,
             ignore_ip_checksum: bool = False) -> Run:
    """Drive `frames` into a fresh EthernetFrontEnd (random idle cycles before input beats with
    probability `gaps`, o.ready low with probability `stalls`) and collect what comes out."""
    dut = EthernetFrontEnd()
    total_beats = sum(len(beats(f)) for f in frames)
    limit = max_cycles or int(4 * total_beats / (1 - gaps) / (1 - stalls)) + 200
    run = Run()
    rng_in, rng_out = random.Random(seed), random.Random(seed + 1)
    driving = [True]

    async def drive(ctx) -> None:
        ctx.set(dut.dst_ip, dst_ip or 0)
        ctx.set(dut.dst_ip_check, dst_ip is not None)
        ctx.set(dut.dst_port, dst_port or 0)
        ctx.set(dut.dst_port_check, dst_port is not None)
        ctx.set(dut.ignore_ip_checksum, ignore_ip_checksum)
        cycle = 0
        for frame in frames:
            accepted = []
            for beat in beats(frame):
                while rng_in.random() < gaps:
                    ctx.set(dut.i.valid, 0)
                    await ctx.tick()
                    cycle += 1
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, beat)
                while True:
                    _, _, ready = await ctx.tick().sample(dut.i.ready)
                    cycle += 1
                    if ready:
                        break
                    run.input_stalls += 1
                    assert cycle < limit, "input not taken: cycle limit reached"
                accepted.append(cycle - 1)
            run.in_cycles.append(accepted)
            ctx.set(dut.i.valid, 0)
        driving[0] = False

    async def receive(ctx) -> None:
        cycle, idle, packet, first = 0, 0, bytearray(), None
        held = None  # a beat offered and not taken must be offered again, unchanged
        while driving[0] or idle < DRAIN_CYCLES:
            assert cycle < limit, f"cycle limit {limit} reached"
            ctx.set(dut.o.ready, rng_out.random() >= stalls)
            _, _, valid, ready, payload = await ctx.tick().sample(dut.o.valid, dut.o.ready, dut.o.payload)
            beat = (payload.data, payload.nbytes, payload.last)
            if held is not None:
                assert valid and beat == held, "o.valid dropped or o.payload changed before the transfer"
            held = beat if valid and not ready else None
            if valid and ready:
                data, nbytes, last = beat
                assert 1 <= nbytes <= BEAT and (last or nbytes == BEAT), beat
                first = cycle if first is None else first
                packet += data.to_bytes(BEAT, "little")[:nbytes]
                if last:
                    run.packets.append(bytes(packet))
                    run.out_cycles.append((first, cycle))
                    packet, first = bytearray(), None
            idle = 0 if valid or driving[0] else idle + 1
            cycle += 1
        assert not packet, "a packet was left open"
        counters = ctx.get(dut.counters)
        run.counters = {name: int(counters[name]) for name in ETH_COUNTERS}
        run.cycles = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(drive)
    sim.add_testbench(receive)
    sim.run()
    return run


def reference(frames: list[bytes], **config) -> tuple[list[bytes], dict[str, int]]:
    ref = ReferenceFrontEnd(**config)
    out = [ref.frame(f) for f in frames]
    return [p for p in out if p is not None], ref.counters


def check_against_reference(frames: list[bytes], *, dst_ip: str | None = None, dst_port: int | None = None,
                            ignore_ip_checksum: bool = False, **sim) -> Run:
    ip = None if dst_ip is None else int.from_bytes(bytes(map(int, dst_ip.split("."))), "big")
    run = simulate(frames, dst_ip=ip, dst_port=dst_port, ignore_ip_checksum=ignore_ip_checksum, **sim)
    packets, counters = reference(frames, dst_ip=dst_ip, dst_port=dst_port,
                                  check_ip_checksum=not ignore_ip_checksum)
    assert run.packets == packets
    assert run.counters == counters
    assert counters["eth_frames"] == len(frames)
    return run


def test_counter_names_are_the_register_maps() -> None:
    assert ETH_COUNTERS == REFERENCE_COUNTERS == tuple(n for n in counter_names() if n.startswith("eth_"))


def test_real_captures_with_gaps_and_back_pressure() -> None:
    assert CAPTURES, "no captures under ../shared/data/pcap"
    raw = [f for path in CAPTURES for f in capture_frames(path)]
    repaired = [fix_ip_checksum(f) for f in raw]  # the anonymised captures have zeroed IPv4 checksums
    run = check_against_reference(raw + repaired, gaps=0.3, stalls=0.3, seed=1)
    udp_payloads = [f.payload for path in CAPTURES for f in read_pcap(path)]
    assert run.packets[-len(udp_payloads) :] == udp_payloads
    assert run.counters["eth_passed"] == len(udp_payloads) + 12  # the 12 captures that are not anonymised
    assert run.counters["eth_bad_ip_checksum"] == len(raw) - 12


def test_anonymised_captures_pass_with_the_checksum_check_off() -> None:
    raw = [f for path in CAPTURES for f in capture_frames(path)]
    run = check_against_reference(raw, ignore_ip_checksum=True, gaps=0.2, stalls=0.2, seed=4)
    assert run.packets == [f.payload for path in CAPTURES for f in read_pcap(path)]
    assert run.counters["eth_passed"] == len(raw)


def test_real_captures_with_filters() -> None:
    frames = [fix_ip_checksum(f) for path in CAPTURES for f in capture_frames(path)]
    run = check_against_reference(frames, dst_ip=DST[0], dst_port=DST[1], gaps=0.2, stalls=0.2, seed=2)
    assert run.counters["eth_passed"] == 9  # the Nasdaq captures that kept their addresses
    assert run.counters["eth_wrong_address"] == len(frames) - 9


def test_each_rule() -> None:
    cases = crafted_frames()
    frames = [frame for _, frame, _ in cases]
    run = check_against_reference(frames, dst_ip=DST[0], dst_port=DST[1], gaps=0.25, stalls=0.25, seed=3)
    assert run.packets == [expected for _, _, expected in cases if expected is not None]
    for name in ETH_COUNTERS[1:]:
        assert run.counters[name] == sum(counter == name for counter, _, _ in cases), name


@pytest.mark.parametrize("seed", [11, 12])
def test_random_frames(seed: int) -> None:
    frames = random_frames(random.Random(seed), 250)
    run = check_against_reference(frames, dst_port=DST[1], gaps=0.2 * (seed % 2), stalls=0.3, seed=seed)
    c = run.counters
    assert c["eth_passed"] and c["eth_truncated"] and c["eth_bad_ip_checksum"]


def _latency(run: Run, frames: list[bytes]) -> tuple[set[int], set[int]]:
    """Cycles from the beat holding the first (last) payload byte in to the first (last) beat out."""
    first, last = set(), set()
    ref = ReferenceFrontEnd()
    passed = [n for n, f in enumerate(frames) if ref.classify(f)[0] is None]
    assert len(passed) == len(run.out_cycles)
    for n, (out_first, out_last) in zip(passed, run.out_cycles, strict=True):
        _, start, length = ref.classify(frames[n])
        first.add(out_first - run.in_cycles[n][start // BEAT])
        last.add(out_last - run.in_cycles[n][(start + length - 1) // BEAT])
    return first, last


def test_line_rate_and_latency(capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(5)
    smallest = [make_frame(rng.randbytes(18)), make_frame(rng.randbytes(20), tags=(0x8100,)),
                make_frame(b"\x01"), make_frame(rng.randbytes(3), tags=(0x88A8, 0x8100))]
    largest = [make_frame(rng.randbytes(1472)), make_frame(rng.randbytes(1472), tags=(0x8100,)),
               make_frame(rng.randbytes(1471), options=bytes(4))]
    frames = (smallest * 6 + largest) * 3
    run = check_against_reference(frames)
    span = run.in_cycles[-1][-1] - run.in_cycles[0][0] + 1
    in_beats = sum(len(c) for c in run.in_cycles)
    in_bytes = sum(len(f) for f in frames)
    assert run.input_stalls == 0 and in_beats == span  # one beat every cycle, back to back
    first, last = _latency(run, frames)
    assert first == {2, 3}  # 2 when the whole payload is in the beat it starts in (tiny frames)
    assert last == {2, 3}  # 3 when the last payload bytes are flushed in a beat of their own
    with capsys.disabled():
        print(f"\n  line rate: {in_beats} beats ({in_bytes} bytes) in {span} cycles ="
              f" {in_beats / span:.2f} beats/cycle, {in_bytes / span:.2f} bytes/cycle (partial last beats);"
              f" latency first byte {sorted(first)}, last byte {sorted(last)} cycles")


def test_output_valid_does_not_depend_on_ready() -> None:
    dut = EthernetFrontEnd()
    frame = make_frame(bytes(range(40)))
    seen = []

    async def bench(ctx) -> None:
        ctx.set(dut.i.valid, 1)
        for beat in beats(frame):
            ctx.set(dut.i.payload, beat)
            ctx.set(dut.o.ready, 1)
            await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for _ in range(8):
            ctx.set(dut.o.ready, 0)
            low = ctx.get(dut.o.valid)
            ctx.set(dut.o.ready, 1)
            seen.append((low, ctx.get(dut.o.valid)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert all(a == b for a, b in seen) and any(a for a, _ in seen)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"vlan_tpids": ()}, "at least one"),
    ({"vlan_tpids": (0x8100, 0x10000)}, "16-bit"),
    ({"vlan_tpids": (0x0800,)}, "IPv4"),
    ({"vlan_tpids": (0x8100, 0x8100)}, "duplicates"),
    ({"counter_width": 0}, "counter_width"),
    ({"counter_width": 65}, "counter_width"),
])
def test_bad_parameters_are_refused(kwargs: dict, message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)  # the half-made component is never elaborated
        with pytest.raises(ValueError, match=message):
            EthernetFrontEnd(**kwargs)
        gc.collect()

