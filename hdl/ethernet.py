"""The Ethernet / 802.1Q / IPv4 / UDP front end: raw frames in, UDP payloads (MoldUDP64 packets) out.

The checks, their order and the counting rules are those of the reference, `tickgate.model.frontend`
(read its docstring): the first failing check decides; a frame that ends before a header field a check
reads, or before its UDP payload does, counts `eth_truncated`.

Cut-through: all checks read header bytes only, so every frame is decided by the beat that holds its
last UDP header byte (or by its last beat, if that comes first), before any payload byte leaves. The
payload then streams through, shifted so that its first byte is lane 0 (it starts at lane 2 or 6), and
is cut at the UDP length: Ethernet padding never leaks out. A frame that ends inside its payload ends
the output packet there (`last`, short) and counts `eth_truncated`.

Pipeline (one beat per cycle, everything advances together when the output register can take a beat):

    i -> HeaderCapture (fields of the beats so far)
      -> stage 1: the beat that entered and its index
      -> stage 2: verdict, phase (HEADER / PAYLOAD / DISCARD), realignment -> output register -> o

Latency, from the cycle a payload byte is taken on `i` to the cycle it is taken on `o` (o.ready high):
first byte 3 cycles (2 when the whole payload sits in the beat it starts in); last byte 2 cycles, or 3
when it needs an output beat of its own (a tail flushed after the input beat that held it).
"""

from __future__ import annotations

from collections.abc import Iterable

from amaranth.hdl import C, Cat, Module, Mux, Signal, Value
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.net_headers import ETHERTYPE_IPV4, IP_PROTO_UDP, IPV4_MIN_IHL, UDP_HEADER_LEN, VLAN_TPIDS

from .counters import CounterBank
from .ethernet_headers import HeaderCapture
from .layouts import BEAT_BYTES, PacketBeat

__all__ = ["ETH_COUNTERS", "EthernetFrontEnd", "Verdict"]



class Verdict(enum.Enum, shape=4):
    """What becomes of a frame; each has its counter, `eth_` + the lower-case name."""

    PASSED = 0
    NOT_IPV4 = 1
    BAD_IP_HEADER = 2
    BAD_IP_CHECKSUM = 3
    IP_FRAGMENT = 4
    NOT_UDP = 5
    WRONG_ADDRESS = 6
    WRONG_PORT = 7
    BAD_UDP_LENGTH = 8
    TRUNCATED = 9

    @property
    def counter(self) -> str:
        return f"eth_{self.name.lower()}"


class Phase(enum.Enum, shape=2):
    """Where stage 2 is in a frame."""

    HEADER = 0   # headers: waiting for the beat that decides
    PAYLOAD = 1  # passing the payload on
    DISCARD = 2  # dropped, or the payload is complete: waiting for the last beat


#: The counters of the front end, in register order (`protocol.registers.COUNTERS`).
ETH_COUNTERS: tuple[str, ...] = ("eth_frames", *(v.counter for v in Verdict))


def _min(a: Value, b: Value) -> Value:
    return Mux(a <= b, a, b)


def _realign(lo: Value, hi: Value, lane6: Value) -> Value:
    """The 8 bytes that start at lane 6 (or lane 2) of `lo` and go on into `hi`."""
    return Mux(lane6, Cat(lo[6 * 8 :], hi[: 6 * 8]), Cat(lo[2 * 8 :], hi[: 2 * 8]))


class EthernetFrontEnd(wiring.Component):
    """Filters Ethernet frames on `i` and passes their UDP payloads on `o`, counting every frame.

    `dst_ip` (the address as a number, 10.0.0.1 = 0x0A000001) and `dst_port` are only accepted
    destinations when `dst_ip_check` and `dst_port_check` are set; they are read as each frame is
    decided. `ignore_ip_checksum` accepts IPv4 headers whose checksum does not verify (for replaying
    anonymised captures, whose rewritten headers carry zero checksums). `counters` are free-running
    `counter_width`-bit counters named as in `ETH_COUNTERS`.
    No back-pressure of its own: `i.ready` follows `o.ready` (or an empty output register).
    """

    def __init__(self, *, vlan_tpids: Iterable[int] = VLAN_TPIDS, counter_width: int = 64) -> None:
        tpids = tuple(vlan_tpids)
        if not tpids:
            raise ValueError("vlan_tpids must name at least one TPID")
        for tpid in tpids:
            if not isinstance(tpid, int) or not 0 <= tpid <= 0xFFFF:
                raise ValueError(f"vlan_tpids: {tpid!r} is not a 16-bit Ethernet type")
            if tpid == ETHERTYPE_IPV4:
                raise ValueError("vlan_tpids: 0x0800 is the IPv4 Ethernet type, not a VLAN TPID")
        if len(set(tpids)) != len(tpids):
            raise ValueError(f"vlan_tpids: {tpids} has duplicates")
        if not isinstance(counter_width, int) or not 1 <= counter_width <= 64:
            raise ValueError(f"counter_width must be an int from 1 to 64, not {counter_width!r}")
        self.vlan_tpids = tpids
        self.counter_width = counter_width
        super().__init__({
            "i": In(stream.Signature(PacketBeat)),
            "o": Out(stream.Signature(PacketBeat)),
            "dst_ip": In(32),
            "dst_ip_check": In(1),
            "dst_port": In(16),
            "dst_port_check": In(1),
            "ignore_ip_checksum": In(1),
            "counters": Out(data.StructLayout(dict.fromkeys(ETH_COUNTERS, counter_width))),
            "clear_counters": In(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.headers = headers = HeaderCapture(self.vlan_tpids)
        f = headers.fields

        # Everything advances when the output register can take a beat.
        advance = Signal()
        m.d.comb += [
            advance.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(advance),
            headers.beat.eq(self.i.payload),
            headers.accept.eq(self.i.valid & advance),
        ]

        # Stage 1: the beat that entered (the header fields include it from now on) and its index.
        beat = Signal(PacketBeat)
        beat_valid = Signal()
        beat_index = Signal.like(headers.index)
        with m.If(advance):
            m.d.sync += beat_valid.eq(self.i.valid)
            with m.If(self.i.valid):
                m.d.sync += [beat.eq(self.i.payload), beat_index.eq(headers.index)]
        step = Signal()
        m.d.comb += step.eq(advance & beat_valid)

        # Stage 2: the verdict on the headers received up to and including `beat`.
        seen = Signal(8)
        m.d.comb += seen.eq(beat_index * BEAT_BYTES + beat.nbytes)
        verdict = self._verdict(m, f, seen)
        ip_end = f.udp_start

        # Where the payload starts: beat and lane (2 or 6).
        payload_start = Signal(7)
        m.d.comb += payload_start.eq(ip_end + UDP_HEADER_LEN)
        payload_beat, lane6 = payload_start[3:], payload_start[2]
        shift = Mux(lane6, 6, 2)

        # Payload state, kept from the decision to the end of the frame.
        remaining = Signal(16)        # payload bytes not yet passed on
        frame_lane6 = Signal()
        frame_shift = Mux(frame_lane6, 6, 2)
        prev = Signal(8 * BEAT_BYTES)  # the beat before `beat`
        flush = Signal(range(BEAT_BYTES + 1))  # bytes of `prev` still to pass on, in a beat of their own

        def emit(lo: Value, hi: Value, lane6: Value, nbytes: Value, last: Value) -> list:
            return [self.o.valid.eq(1), self.o.payload.data.eq(_realign(lo, hi, lane6)),
                    self.o.payload.nbytes.eq(nbytes), self.o.payload.last.eq(last)]

        decided = Signal()  # a frame is counted this cycle, under `outcome`
        outcome = Signal(Verdict)

        with m.If(advance):
            m.d.sync += self.o.valid.eq(0)
            with m.If(flush != 0):
                m.d.sync += [*emit(prev, C(0, 64), frame_lane6, flush, 1), flush.eq(0)]
            with m.If(beat_valid):
                m.d.sync += prev.eq(beat.data)

        phase = Signal(Phase)
        after = Mux(beat.last, Phase.HEADER, Phase.DISCARD)  # once the frame is decided or its payload out
        with m.Switch(phase):
            with m.Case(Phase.HEADER), m.If(step & (beat.last | (beat_index == payload_beat))):
                with m.If(verdict != Verdict.PASSED):
                    m.d.comb += [decided.eq(1), outcome.eq(verdict)]
                    m.d.sync += phase.eq(after)
                with m.Else():
                    length = f.udp_length - UDP_HEADER_LEN
                    tail = beat.nbytes - shift  # payload bytes in this beat, if it is the payload's
                    has_tail = (beat_index == payload_beat) & (beat.nbytes > shift)
                    with m.If(beat.last | (length <= BEAT_BYTES - shift)):
                        with m.If(has_tail):
                            m.d.sync += emit(beat.data, C(0, 64), lane6, _min(length, tail), 1)
                        m.d.comb += [decided.eq(1), outcome.eq(
                            Mux(has_tail & (length <= tail), Verdict.PASSED, Verdict.TRUNCATED))]
                        m.d.sync += phase.eq(after)
                    with m.Else():
                        m.d.sync += [remaining.eq(length), frame_lane6.eq(lane6), phase.eq(Phase.PAYLOAD)]

            with m.Case(Phase.PAYLOAD), m.If(step):
                # The output beat: the end of `prev` and the head of `beat`.
                avail = BEAT_BYTES - frame_shift + _min(beat.nbytes, frame_shift)
                ends = remaining <= avail
                cut = beat.last & (beat.nbytes <= frame_shift)
                m.d.sync += emit(prev, beat.data, frame_lane6, _min(remaining, avail), ends | cut)
                rest = remaining - BEAT_BYTES
                tail = beat.nbytes - frame_shift
                with m.If(ends):
                    m.d.comb += [decided.eq(1), outcome.eq(Verdict.PASSED)]
                    m.d.sync += phase.eq(after)
                with m.Elif(beat.last | (rest <= tail)):
                    # The payload or the frame ends in this beat: its tail goes out next cycle.
                    has_tail = beat.nbytes > frame_shift
                    with m.If(has_tail):
                        m.d.sync += flush.eq(_min(rest, tail))
                    m.d.comb += [decided.eq(1), outcome.eq(
                        Mux(has_tail & (rest <= tail), Verdict.PASSED, Verdict.TRUNCATED))]
                    m.d.sync += phase.eq(after)
                with m.Else():
                    m.d.sync += remaining.eq(rest)

            with m.Case(Phase.DISCARD), m.If(step & beat.last):
                m.d.sync += phase.eq(Phase.HEADER)

        # Counters: every frame once in eth_frames and once under its outcome.
        m.submodules.counters = bank = CounterBank(ETH_COUNTERS, width=self.counter_width)
        m.d.comb += bank.inc.eth_frames.eq(decided)
        for v in Verdict:
            m.d.comb += bank.inc[v.counter].eq(decided & (outcome == v))
        m.d.comb += [self.counters.eq(bank.count), bank.clear.eq(self.clear_counters)]
        return m

    def _verdict(self, m: Module, f: Value, seen: Value) -> Signal:
        """The first check that fails on header fields `f` of a frame `seen` bytes long so far, or PASSED.

        A check that reads bytes the frame does not have (yet) fails as TRUNCATED; the caller only takes
        the verdict once the whole UDP header is in, or at the end of the frame.
        """
        ip_end = f.udp_start
        checks = (
            (seen < f.type_end, Verdict.TRUNCATED),
            (f.ethertype != ETHERTYPE_IPV4, Verdict.NOT_IPV4),
            (seen < f.ip_start + 4, Verdict.TRUNCATED),
            ((f.ip_version != 4) | (f.ip_ihl < IPV4_MIN_IHL) | (f.ip_total_length < 4 * f.ip_ihl + UDP_HEADER_LEN),
             Verdict.BAD_IP_HEADER),
            (seen < ip_end, Verdict.TRUNCATED),
            (~f.ip_checksum_ok & ~self.ignore_ip_checksum, Verdict.BAD_IP_CHECKSUM),
            (f.ip_fragment, Verdict.IP_FRAGMENT),
            (f.ip_protocol != IP_PROTO_UDP, Verdict.NOT_UDP),
            (self.dst_ip_check & (f.ip_dst != self.dst_ip), Verdict.WRONG_ADDRESS),
            (seen < ip_end + 4, Verdict.TRUNCATED),
            (self.dst_port_check & (f.udp_dst_port != self.dst_port), Verdict.WRONG_PORT),
            (seen < ip_end + 6, Verdict.TRUNCATED),
            ((f.udp_length != f.ip_total_length - 4 * f.ip_ihl) | (f.udp_length == UDP_HEADER_LEN),
             Verdict.BAD_UDP_LENGTH),
        )
        verdict = Signal(Verdict)
        for n, (failed, reason) in enumerate(checks):
            with (m.Elif if n else m.If)(failed):
                m.d.comb += verdict.eq(reason)
        with m.Else():
            m.d.comb += verdict.eq(Verdict.PASSED)
        return verdict
