"""A/B line arbitration in gateware: the packets of lines A and B (one DMA stream, each packet tagged with its
line) in, the packets the MoldUDP64 session takes out, in order, by the rules of `model.lines`.

    i (beats + line, end of input) ─► per line: beat FIFO, header FIFO ─┐
                                   └► arrival order FIFO ──► drain ───┴─► o (beats, to the decoder)

Every packet is buffered in its line's FIFO as it arrives; when its header is in (its third beat, or its last
if shorter) it joins the arrival order. The drain takes arrivals one at a time, exactly as `LineArbiter.offer`:
count it received, then release packets (each streamed whole to `o`) until the model's drain would return, and
only then take the next arrival; so the release order is the model's, whatever the timing. Which packets are
*ahead* is judged against a copy of the session's state (session, expected sequence, ended) that the drain
keeps from the headers it releases, as `hdl.moldudp64.SessionTracker` will judge them.

The buffer is byte-bounded: a line holds at most `LINE_BUFFER_BYTES` (`protocol.moldudp64`, each packet counted
in whole beats, `held_bytes`); holding more, its first packet is released, as when it runs more than the window
ahead: the rule of every implementation (`model.lines`). The FIFO of a line has room for that and a header more,
so a packet is never refused for want of room: the input waits (back-pressure) only while the drain streams.

With `cfg.two` clear (one line) nothing is ahead: every packet is released in arrival order, whatever its line,
and the line counters stay still. A record flagged end of input without a packet (`hdl.dma`) is never passed on.

Per packet the drain spends its beats and one cycle (the DMA path gives it two: the header words). The judgement
of a line's first packet is registered, so a cycle after each release no decision is taken.
"""


from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from tickgate.protocol.config import MAX_LINE_WINDOW
from tickgate.protocol.moldudp64 import DMA_ALIGN, END_OF_SESSION, HEADER_LEN, LINE_BUFFER_BYTES

from .fields import big_endian
from .layouts import BEAT_BYTES, PacketBeat
from .moldudp64 import COUNT_BITS, SEQ_BITS, SESSION_BITS, MoldHeader, SessionConfig

__all__ = ["BUFFER_BEATS", "LINE_COUNTERS", "LineArbiter", "LineBeat", "LinesConfig", "connect_unframer"]

if DMA_ALIGN != BEAT_BYTES:
    raise AssertionError("held_bytes counts DMA beats: they must be the pipeline's beats")
#: Beats of packets one line holds at most (the model's `LINE_BUFFER_BYTES`).
BUFFER_BEATS = LINE_BUFFER_BYTES // BEAT_BYTES
_HEADER_BEATS = -(-HEADER_LEN // BEAT_BYTES)  # 3: a packet joins the arrival order at its third beat
_LENGTH_BITS = 16
_ORDER_DEPTH = 8

#: A packet beat with its line and the DMA record's end-of-input flag and length (`hdl.dma.DmaUnframer`'s
#: side outputs); `length` 0 with `end_of_input`: no packet, the input ends.
LineBeat = data.StructLayout({"beat": PacketBeat, "line": 1, "end_of_input": 1, "length": _LENGTH_BITS})

#: The `lines` register: bit 0 two lines, bits 8-15 the window in packets.
LinesConfig = data.StructLayout({"two": 1, "window": 8})

#: The per-line counters of the register map, one pulse each per packet counted.
LINE_COUNTERS = tuple(f"line_{x}_{k}" for x in "ab" for k in ("received", "used", "duplicate", "late"))
LineCounts = data.StructLayout(dict.fromkeys(LINE_COUNTERS, 1))

#: What the drain knows of a packet waiting in its line: its header's fields and size.
_Meta = data.StructLayout({
    "whole": 1,  # a whole header: 20 bytes or more
    "session": SESSION_BITS,
    "seq": SEQ_BITS,
    "count": COUNT_BITS,
    "beats": 14,
})
#: An arrival: a packet of `line` (`packet`), the end of the input after it (`eoi`), or both.
_Arrival = data.StructLayout({"line": 1, "packet": 1, "eoi": 1, "beats": 14})


class LineArbiter(wiring.Component):
    """See the module docstring. `i`: `LineBeat`s (one line's packets in its order, the lines interleaved
    packet by packet); `o`: the packets to the decoder; `cfg`: the `lines` register; `session`: the session
    configuration (as the decoder's); `counts`: the per-line counter pulses."""

    i: In(stream.Signature(LineBeat))
    o: Out(stream.Signature(PacketBeat))
    cfg: In(LinesConfig)
    session: In(SessionConfig)
    counts: Out(LineCounts)

    def elaborate(self, platform) -> Module:
        m = Module()
        meta_w, beat_w = _Meta.size, PacketBeat.size
        beats = [SyncFIFOBuffered(width=beat_w, depth=BUFFER_BEATS + _HEADER_BEATS + 1) for _ in range(2)]
        metas = [SyncFIFOBuffered(width=meta_w, depth=MAX_LINE_WINDOW + 1 + _ORDER_DEPTH + 2) for _ in range(2)]
        m.submodules.order = order = SyncFIFOBuffered(width=_Arrival.size, depth=_ORDER_DEPTH)
        for n in range(2):
            m.submodules[f"beats_{'ab'[n]}"] = beats[n]
            m.submodules[f"meta_{'ab'[n]}"] = metas[n]

        # -- arrival: each beat into its line's FIFO; at its header, the packet joins the arrival order.
        inp = self.i.payload
        line_in = inp.line
        marker = inp.end_of_input & (inp.length == 0)  # no packet: the input ends
        pos = Signal(range(_HEADER_BEATS + 1))  # beats of the packet arriving taken so far (saturating)
        early = [Signal(64, name=f"early{n}") for n in range(_HEADER_BEATS - 1)]
        joins = (pos == _HEADER_BEATS - 1) | (inp.beat.last & (pos < _HEADER_BEATS - 1))
        header = Signal(MoldHeader)
        m.d.comb += header.as_value().eq(Cat(*early, inp.beat.data)[:HEADER_LEN * 8])
        n_beats = Mux(inp.length == 0, 1, (inp.length + BEAT_BYTES - 1) >> 3)
        meta_in = Signal(_Meta)
        m.d.comb += [
            meta_in.whole.eq(inp.length >= HEADER_LEN),
            meta_in.session.eq(header.session),
            meta_in.seq.eq(big_endian(header.sequence_number)),
            meta_in.count.eq(big_endian(header.message_count)),
            meta_in.beats.eq(n_beats),
        ]
        arrival_in = Signal(_Arrival)
        m.d.comb += [arrival_in.line.eq(line_in), arrival_in.packet.eq(~marker), arrival_in.eoi.eq(inp.end_of_input),
                     arrival_in.beats.eq(n_beats)]
        room_beat = Mux(line_in, beats[1].w_rdy, beats[0].w_rdy) | marker
        room_meta = Mux(line_in, metas[1].w_rdy, metas[0].w_rdy) | marker
        m.d.comb += self.i.ready.eq(room_beat & (~joins | (order.w_rdy & room_meta)))
        take = self.i.valid & self.i.ready
        for n in range(2):
            mine = line_in == n
            m.d.comb += [
                beats[n].w_data.eq(inp.beat), beats[n].w_en.eq(take & mine & ~marker),
                metas[n].w_data.eq(meta_in), metas[n].w_en.eq(take & mine & ~marker & joins),
            ]
        m.d.comb += [order.w_data.eq(arrival_in), order.w_en.eq(take & joins)]
        with m.If(take):
            m.d.sync += pos.eq(Mux(inp.beat.last, 0, Mux(pos == _HEADER_BEATS, pos, pos + 1)))
            for n in range(_HEADER_BEATS - 1):
                with m.If(pos == n):
                    m.d.sync += early[n].eq(inp.beat.data)

        # -- the session as the decoder will hold it (hdl.moldudp64.SessionTracker's state).
        cfg = self.session
        locked, ended, exp_valid = Signal(), Signal(), Signal()
        current = Signal(SESSION_BITS)
        expected = Signal(SEQ_BITS + 1)
        gap_first, gap_end = Signal(SEQ_BITS + 1), Signal(SEQ_BITS + 1)  # the last gap declared
        known = locked | cfg.session_en
        ref = Mux(locked, current, cfg.session)
        exp_known = exp_valid | cfg.first_sequence_en
        exp_now = Mux(exp_valid, expected, cfg.first_sequence)

        # -- each line's first packet, judged a cycle ahead: ahead (seq), and which starts lower.
        heads = [Signal(_Meta, name=f"head_{'ab'[n]}") for n in range(2)]
        ahead = [Signal(name=f"ahead_{'ab'[n]}") for n in range(2)]
        judged = [Signal(name=f"judged_{'ab'[n]}") for n in range(2)]
        b_lower = Signal()
        release = Signal()  # a packet is released this cycle (the session copy and a head change)
        for n in range(2):
            h = heads[n]
            m.d.comb += h.as_value().eq(metas[n].r_data)
            same = ~known | (h.session == ref)
            m.d.sync += [ahead[n].eq(self.cfg.two & h.whole & exp_known & same & (h.seq > exp_now)),
                         judged[n].eq(metas[n].r_rdy & ~release)]
        m.d.sync += b_lower.eq(heads[1].seq < heads[0].seq)

        # -- the drain (`LineArbiter._drain`).
        held_n = [Signal(range(MAX_LINE_WINDOW + _ORDER_DEPTH + 4), name=f"held_n_{'ab'[n]}") for n in range(2)]
        held_beats = [Signal(range(2 * BUFFER_BEATS + (1 << 14)), name=f"held_beats_{'ab'[n]}") for n in range(2)]
        quiet = [Signal(8, name=f"quiet_{'ab'[n]}") for n in range(2)]  # counted from the line's first packet
        live = [Signal(name=f"live_{'ab'[n]}") for n in range(2)]
        force = Signal()  # draining at the end of the input
        phase = Signal()  # the model's `for line in (0, 1)`: the line being drained while not ahead
        window = self.cfg.window
        held = [held_n[n] != 0 for n in range(2)]
        ready = (~held[0] | judged[0]) & (~held[1] | judged[1])
        free = [held[n] & ~ahead[n] for n in range(2)]
        waits = [~force & (held_n[n] <= window) & (held_beats[n] <= BUFFER_BEATS)
                 & live[1 - n] & (quiet[1 - n] < window) for n in range(2)]
        go, go_line, go_phase = Signal(), Signal(), Signal()
        with m.If(phase & free[1]):
            m.d.comb += [go.eq(1), go_line.eq(1), go_phase.eq(1)]
        with m.Elif(free[0]):
            m.d.comb += [go.eq(1), go_line.eq(0)]
        with m.Elif(free[1]):
            m.d.comb += [go.eq(1), go_line.eq(1), go_phase.eq(1)]
        with m.Elif(held[0] & held[1]):  # both ahead: the lower start (a tie: A)
            m.d.comb += [go.eq(1), go_line.eq(b_lower)]
        with m.Elif(held[0]):
            m.d.comb += [go.eq(~waits[0]), go_line.eq(0)]
        with m.Elif(held[1]):
            m.d.comb += [go.eq(~waits[1]), go_line.eq(1)]

        sending = Signal()
        send_line = Signal()
        deciding = ~sending & ready
        m.d.comb += release.eq(deciding & go)

        # Output: the released line's beats, from the decision's cycle on.
        out_line = Mux(sending, send_line, go_line)
        out_on = sending | release
        out_beat = Signal(PacketBeat)
        m.d.comb += out_beat.as_value().eq(Mux(out_line, beats[1].r_data, beats[0].r_data))
        out_rdy = Mux(out_line, beats[1].r_rdy, beats[0].r_rdy)
        m.d.comb += [self.o.payload.eq(out_beat), self.o.valid.eq(out_on & out_rdy)]
        shipped = self.o.valid & self.o.ready
        for n in range(2):
            m.d.comb += beats[n].r_en.eq(shipped & (out_line == n))
        with m.If(release):
            m.d.sync += [sending.eq(~(shipped & out_beat.last)), send_line.eq(go_line), phase.eq(go_phase)]
        with m.Elif(sending & shipped & out_beat.last):
            m.d.sync += sending.eq(0)

        # Taking the next arrival: when the drain would return (nothing to release, not sending).
        arrival = Signal(_Arrival)
        m.d.comb += arrival.as_value().eq(order.r_data)
        offer = deciding & ~go & order.r_rdy
        m.d.comb += order.r_en.eq(offer)
        with m.If(deciding & ~go & ~held[0] & ~held[1]):
            m.d.sync += force.eq(0)
        counts = self.counts
        two = self.cfg.two
        for n in range(2):
            mine = arrival.line == n
            got = offer & arrival.packet & mine
            gone = release & (go_line == n)
            m.d.comb += metas[n].r_en.eq(gone)
            m.d.sync += [
                held_n[n].eq(held_n[n] + got - gone),
                held_beats[n].eq(held_beats[n] + Mux(got, arrival.beats, 0) - Mux(gone, heads[n].beats, 0)),
            ]
            m.d.comb += getattr(counts, f"line_{'ab'[n]}_received").eq(got & two)
            with m.If(offer & arrival.packet):
                with m.If(mine):
                    m.d.sync += [quiet[n].eq(0), live[n].eq(1)]
                with m.Elif(quiet[n] < window):  # the model's cap at the window
                    m.d.sync += quiet[n].eq(quiet[n] + 1)
        with m.If(offer):
            m.d.sync += phase.eq(0)
            with m.If(arrival.eoi):
                m.d.sync += force.eq(1)

        # -- a released packet: the session copy advances and the line counts it (`LineArbiter._take`).
        h = Signal(_Meta)
        m.d.comb += h.eq(Mux(go_line, heads[1].as_value(), heads[0].as_value()))
        mismatch = known & (h.session != ref)
        wrong = mismatch & ~ended
        change = mismatch & ended
        exp = Mux(change | ~exp_valid, Mux(cfg.first_sequence_en & ~change, cfg.first_sequence, h.seq), expected)
        heartbeat = h.count == 0
        end_of_session = h.count == END_OF_SESSION
        data_packet = ~heartbeat & ~end_of_session
        packet_end = h.seq + h.count
        duplicate = data_packet & (packet_end <= exp)
        gap = h.seq > exp
        frame = data_packet & ~duplicate
        with m.If(release & h.whole & ~wrong):
            m.d.sync += [
                locked.eq(1), current.eq(h.session), exp_valid.eq(1),
                expected.eq(Mux(frame, packet_end, Mux(gap, h.seq, exp))),
                ended.eq(Mux(end_of_session, 1, Mux(change, 0, ended))),
            ]
            exp_before = Mux(change, 0, exp_now)  # the model's `expected`, None after a change
            known_before = ~change & exp_known
            with m.If(known_before & (h.seq > exp_before)):
                m.d.sync += [gap_first.eq(exp_before), gap_end.eq(h.seq)]
            with m.Elif(change):
                m.d.sync += [gap_first.eq(0), gap_end.eq(0)]
            used = ~known_before | (packet_end > exp_before)
            late = ~used & (h.seq < gap_end) & (packet_end > gap_first)
            for n in range(2):
                x = "ab"[n]
                counted = release & (go_line == n) & h.whole & ~wrong & data_packet & two
                m.d.comb += [
                    getattr(counts, f"line_{x}_used").eq(counted & used),
                    getattr(counts, f"line_{x}_late").eq(counted & late),
                    getattr(counts, f"line_{x}_duplicate").eq(counted & ~used & ~late),
                ]
        return m


def connect_unframer(m: Module, unframer, arbiter: "LineArbiter") -> None:
    """The DMA unframer's packets (`hdl.dma.DmaUnframer`), with their line, length and end-of-input flag,
    into the arbiter: the DMA path's wiring."""
    i = arbiter.i
    m.d.comb += [
        i.valid.eq(unframer.o.valid), unframer.o.ready.eq(i.ready), i.payload.beat.eq(unframer.o.payload),
        i.payload.line.eq(unframer.line), i.payload.end_of_input.eq(unframer.end_of_input),
        i.payload.length.eq(unframer.length),
    ]
