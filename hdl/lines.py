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
so a packet is never refused for want of room: the input waits (back-pressure) only while the drain is behind.

With `cfg.two` clear (one line) nothing is ahead: every packet is released in arrival order, whatever its line,
and the line counters stay still. A record flagged end of input without a packet (`hdl.dma`) is never passed on.

Timing: every decision is taken from registers (the first packet of each line is judged against the session
copy in two registered steps, byte by byte then combined), and carried out the cycle after; so the drain takes
an action (a release, or an arrival) every fourth cycle at most, eight cycles a packet (its arrival, its
release), while the packet before streams. The DMA path gives a packet its beats and two header words: packets
of 6 beats (48 bytes) or more, every data packet of a realistic mix, pass at one word a cycle without
back-pressure (shorter ones, heartbeats, are absorbed by the FIFOs). A packet waits 11 cycles from its first
beat in to its first beat out when nothing is held (`test_lines.py`). Logic levels register to register,
synthesised alone (`bitstreams/timing.py`'s counting): 7 at most (the second step of judging, into `ahead`;
one over the budget of 6), its FIFOs 6.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
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
_CHUNK = 12  # bits compared at once in the first step of judging a head
_MARGIN = 4  # entries kept free: `room` is registered, and a beat waits in a register before its FIFO

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
    "end": SEQ_BITS + 1,  # seq + count
    "count": COUNT_BITS,
    "data": 1,  # a data packet: count neither 0 (heartbeat) nor END_OF_SESSION
    "beats": 14,
})
#: A line's first packet judged against the session copy: ahead (`LineArbiter._ahead`), of the session
#: (`same`), starting past the expected sequence (`after`), all its messages seen (`repeat`), holding a
#: message of the last gap declared (`late`).
_Judged = data.StructLayout({"ahead": 1, "same": 1, "after": 1, "repeat": 1, "late": 1})
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
        beats = [SyncFIFOBuffered(width=PacketBeat.size, depth=BUFFER_BEATS + _HEADER_BEATS + 2 + _MARGIN)
                 for _ in range(2)]
        metas = [SyncFIFOBuffered(width=_Meta.size, depth=MAX_LINE_WINDOW + 1 + _ORDER_DEPTH + 2 + _MARGIN)
                 for _ in range(2)]
        m.submodules.order = order = SyncFIFOBuffered(width=_Arrival.size, depth=_ORDER_DEPTH)
        for n in range(2):
            m.submodules[f"beats_{'ab'[n]}"] = beats[n]
            m.submodules[f"meta_{'ab'[n]}"] = metas[n]

        # -- arrival: a beat a cycle into a register, then into its line's FIFO; at its header (third beat, or
        # its last if shorter) the packet's header fields go to its line and it joins the arrival order.
        # Each FIFO has room for what may still come while it is seen high (registered, a beat in flight).
        rooms = []
        for name, fifo in (("beats_a", beats[0]), ("beats_b", beats[1]), ("meta_a", metas[0]),
                           ("meta_b", metas[1]), ("order", order)):
            has = Signal(name=f"room_{name}")
            m.d.sync += has.eq(fifo.level < fifo.depth - _MARGIN)
            rooms.append(has)
        room = Cat(*rooms).all()
        m.d.comb += self.i.ready.eq(room)
        take = self.i.valid & room
        inp = self.i.payload
        marker = inp.end_of_input & (inp.length == 0)  # no packet: the input ends
        pos = Signal(range(_HEADER_BEATS + 1))  # beats of the packet arriving taken so far (saturating)
        early = [Signal(64, name=f"early{n}") for n in range(_HEADER_BEATS - 1)]
        joins = (pos == _HEADER_BEATS - 1) | (inp.beat.last & (pos < _HEADER_BEATS - 1))
        header = Signal(MoldHeader)
        m.d.comb += header.as_value().eq(Cat(*early, inp.beat.data)[:HEADER_LEN * 8])
        n_beats = Mux(inp.length == 0, 1, (inp.length + BEAT_BYTES - 1) >> 3)
        seq_in, count_in = big_endian(header.sequence_number), big_endian(header.message_count)
        with m.If(take):
            m.d.sync += pos.eq(Mux(inp.beat.last, 0, Mux(pos == _HEADER_BEATS, pos, pos + 1)))
            for n in range(_HEADER_BEATS - 1):
                with m.If(pos == n):
                    m.d.sync += early[n].eq(inp.beat.data)
        got_beat, got_line, got_marker, got_joins = Signal(), Signal(), Signal(), Signal()
        got = Signal(PacketBeat)
        meta_in, arrival_in = Signal(_Meta), Signal(_Arrival)
        m.d.sync += [
            got_beat.eq(take), got_line.eq(inp.line), got_marker.eq(marker), got_joins.eq(joins),
            got.eq(inp.beat),
            meta_in.whole.eq(inp.length >= HEADER_LEN), meta_in.session.eq(header.session),
            meta_in.seq.eq(seq_in), meta_in.end.eq(seq_in + count_in), meta_in.count.eq(count_in),
            meta_in.data.eq((count_in != 0) & (count_in != END_OF_SESSION)),
            meta_in.beats.eq(n_beats),
            arrival_in.line.eq(inp.line), arrival_in.packet.eq(~marker), arrival_in.eoi.eq(inp.end_of_input),
            arrival_in.beats.eq(n_beats),
        ]
        for n in range(2):
            mine = got_beat & (got_line == n) & ~got_marker
            m.d.comb += [beats[n].w_data.eq(got), beats[n].w_en.eq(mine),
                         metas[n].w_data.eq(meta_in), metas[n].w_en.eq(mine & got_joins)]
        m.d.comb += [order.w_data.eq(arrival_in), order.w_en.eq(got_beat & got_joins)]

        # -- the session as the decoder will hold it (hdl.moldudp64.SessionTracker's state): `expected` is the
        # sequence expected next (`first_sequence` until a packet sets it), `ref` the session (configured
        # until a packet locks it).
        cfg, two = self.session, self.cfg.two
        locked, ended, exp_valid = Signal(), Signal(), Signal()
        ref = Signal(SESSION_BITS)
        expected = Signal(SEQ_BITS + 1)
        gap_first, gap_end = Signal(SEQ_BITS + 1), Signal(SEQ_BITS + 1)  # the last gap declared
        known = locked | cfg.session_en
        exp_known = exp_valid | cfg.first_sequence_en

        # -- each line's first packet judged against it in two registered steps (comparisons by byte, then
        # combined), valid where `judged`.
        heads = [Signal(_Meta, name=f"head_{'ab'[n]}") for n in range(2)]
        judge = [Signal(_Judged, name=f"judge_{'ab'[n]}") for n in range(2)]
        judged = [Signal(name=f"judged_{'ab'[n]}") for n in range(2)]
        b_lower = Signal()
        update = Signal()  # the session copy changes this cycle
        for n in range(2):
            h, j = heads[n], judge[n]
            x = "ab"[n]
            m.d.comb += h.as_value().eq(metas[n].r_data)
            same = _equal(m, h.session, ref, f"same_{x}")
            after = _greater(m, h.seq, expected, f"after_{x}")
            repeat = ~_greater(m, h.end, expected, f"repeat_{x}")
            late = _greater(m, gap_end, h.seq, f"late0_{x}") & _greater(m, h.end, gap_first, f"late1_{x}")
            whole, steady = Signal(name=f"whole_{x}"), Signal(name=f"steady_{x}")
            m.d.sync += [whole.eq(h.whole), steady.eq(metas[n].r_rdy & ~metas[n].r_en & ~update)]
            same = ~known | same
            m.d.sync += [
                j.ahead.eq(two & whole & exp_known & same & after), j.same.eq(same), j.after.eq(after),
                j.repeat.eq(repeat), j.late.eq(late),
                judged[n].eq(steady & metas[n].r_rdy & ~metas[n].r_en & ~update),
            ]
        m.d.sync += b_lower.eq(_greater(m, heads[0].seq, heads[1].seq, "b_lower"))

        # -- the drain (`LineArbiter._drain`): one action (a release or taking an arrival) every third cycle at
        # most, each decided from registers only and carried out in the next cycle.
        held_n = [Signal(range(MAX_LINE_WINDOW + _ORDER_DEPTH + 4), name=f"held_n_{'ab'[n]}") for n in range(2)]
        held_beats = [Signal(range(2 * BUFFER_BEATS + (1 << 14)), name=f"held_beats_{'ab'[n]}") for n in range(2)]
        quiet = [Signal(8, name=f"quiet_{'ab'[n]}") for n in range(2)]  # counted from the line's first packet
        live = [Signal(name=f"live_{'ab'[n]}") for n in range(2)]
        held = [Signal(name=f"held_{'ab'[n]}") for n in range(2)]
        waits = [Signal(name=f"waits_{'ab'[n]}") for n in range(2)]
        force = Signal()  # draining at the end of the input
        phase = Signal()  # the model's `for line in (0, 1)`: the line being drained while not ahead
        window = self.cfg.window
        for n in range(2):
            m.d.sync += [held[n].eq(held_n[n] != 0),
                         waits[n].eq(~force & (held_n[n] <= window) & (held_beats[n] <= BUFFER_BEATS)
                                     & live[1 - n] & (quiet[1 - n] < window))]
        block = Signal(2)  # cycles until the registers above are up to date after an action (judging: three)
        pend, pend_line = Signal(), Signal()  # a packet released, waiting to be streamed
        ready = (~held[0] | judged[0]) & (~held[1] | judged[1])
        can = ~pend & (block == 0) & ready
        free = [held[n] & ~judge[n].ahead for n in range(2)]
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
        release = can & go
        offer = can & ~go & order.r_rdy
        rel, rel_line = Signal(), Signal()  # the release decided last cycle, carried out now
        rel_h, rel_j = Signal(_Meta), Signal(_Judged)
        taking = Signal()  # the arrival taken last cycle, counted now
        m.d.sync += [rel.eq(release), taking.eq(offer),
                     block.eq(Mux(release | offer, 3, Mux(block != 0, block - 1, 0)))]
        with m.If(release):
            m.d.sync += [pend.eq(1), pend_line.eq(go_line), phase.eq(go_phase), rel_line.eq(go_line),
                         rel_h.eq(Mux(go_line, heads[1].as_value(), heads[0].as_value())),
                         rel_j.eq(Mux(go_line, judge[1].as_value(), judge[0].as_value()))]
        with m.If(offer):
            m.d.sync += phase.eq(0)
        with m.If(can & ~go & ~held[0] & ~held[1]):
            m.d.sync += force.eq(0)

        # Streaming: the released packets' beats to `o`, one after the other.
        streaming, s_line = Signal(), Signal()
        out_beat = Signal(PacketBeat)
        m.d.comb += out_beat.as_value().eq(Mux(s_line, beats[1].r_data, beats[0].r_data))
        m.d.comb += [self.o.payload.eq(out_beat),
                     self.o.valid.eq(streaming & Mux(s_line, beats[1].r_rdy, beats[0].r_rdy))]
        shipped = self.o.valid & self.o.ready
        for n in range(2):
            m.d.comb += beats[n].r_en.eq(shipped & (s_line == n))
        done = shipped & out_beat.last
        with m.If((~streaming | done) & pend):
            m.d.sync += [streaming.eq(1), s_line.eq(pend_line), pend.eq(0)]
        with m.Elif(done):
            m.d.sync += streaming.eq(0)

        # Taking an arrival (`LineArbiter.offer`): counted received, held on its line.
        arrival = Signal(_Arrival)
        m.d.comb += [arrival.as_value().eq(order.r_data), order.r_en.eq(taking)]
        counts = self.counts
        for n in range(2):
            x = "ab"[n]
            mine = arrival.line == n
            came = taking & arrival.packet & mine
            gone = rel & (rel_line == n)
            m.d.comb += metas[n].r_en.eq(gone)
            m.d.sync += [
                held_n[n].eq(held_n[n] + came - gone),
                held_beats[n].eq(held_beats[n] + Mux(came, arrival.beats, 0) - Mux(gone, rel_h.beats, 0)),
            ]
            m.d.comb += getattr(counts, f"line_{x}_received").eq(came & two)
            with m.If(taking & arrival.packet):
                with m.If(mine):
                    m.d.sync += [quiet[n].eq(0), live[n].eq(1)]
                with m.Elif(quiet[n] < window):  # the model's cap at the window
                    m.d.sync += quiet[n].eq(quiet[n] + 1)
        with m.If(taking & arrival.eoi):
            m.d.sync += force.eq(1)

        # -- a released packet: the session copy advances and its line counts it (`LineArbiter._take`).
        h, j = rel_h, rel_j
        change = ~j.same & ended  # a new session after an end of session
        wrong = ~j.same & ~ended  # dropped by the session
        on = ~change & exp_known  # the session's expected sequence applies (the model's `expected`)
        end_of_session = h.count == END_OF_SESSION
        data_packet = h.data
        gap = on & j.after
        frame = data_packet & ~(on & j.repeat)
        base = Mux(on, expected, h.seq)
        m.d.comb += update.eq(rel & h.whole & ~wrong)
        with m.If(update):
            m.d.sync += [
                locked.eq(1), ref.eq(h.session), exp_valid.eq(1),
                expected.eq(Mux(frame, h.end, Mux(gap, h.seq, base))),
                ended.eq(Mux(end_of_session, 1, Mux(change, 0, ended))),
            ]
            with m.If(gap):
                m.d.sync += [gap_first.eq(expected), gap_end.eq(h.seq)]
            with m.Elif(change):
                m.d.sync += [gap_first.eq(0), gap_end.eq(0)]
        with m.Else():
            with m.If(~exp_valid):
                m.d.sync += expected.eq(cfg.first_sequence)
            with m.If(~locked):
                m.d.sync += ref.eq(cfg.session)
        used = ~on | ~j.repeat
        late = ~used & j.late
        for n in range(2):
            x = "ab"[n]
            counted = update & (rel_line == n) & data_packet & two
            m.d.comb += [
                getattr(counts, f"line_{x}_used").eq(counted & used),
                getattr(counts, f"line_{x}_late").eq(counted & late),
                getattr(counts, f"line_{x}_duplicate").eq(counted & ~used & ~late),
            ]
        return m


def _bytes(value) -> list:
    return [value[k:k + _CHUNK] for k in range(0, len(value), _CHUNK)]


def _greater(m: Module, a, b, name: str):
    """`a > b` (unsigned), compared `_CHUNK` bits at a time into registers this cycle and combined from them: the result
    is that of the values a cycle ago."""
    a, b = Value.cast(a), Value.cast(b)
    result = None
    for k in range(-(-max(len(a), len(b)) // _CHUNK)):
        x, y = a[_CHUNK * k:_CHUNK * (k + 1)], b[_CHUNK * k:_CHUNK * (k + 1)]
        gt = None
        if len(x):  # else this byte of `a` is zero: never greater
            gt = Signal(name=f"{name}_gt{k}")
            m.d.sync += gt.eq(x > y)
        if result is None:
            result = gt if gt is not None else Const(0)
            continue
        eq = Signal(name=f"{name}_eq{k}")
        m.d.sync += eq.eq(x == y if len(x) else y == 0)
        result = (eq & result) if gt is None else (gt | (eq & result))
    return result


def _equal(m: Module, a, b, name: str):
    """`a == b`, compared `_CHUNK` bits at a time into registers this cycle and combined from them (a cycle late)."""
    eq = [Signal(name=f"{name}_eq{k}") for k in range(-(-len(a) // _CHUNK))]
    m.d.sync += [s.eq(x == y) for s, x, y in zip(eq, _bytes(a), _bytes(b), strict=True)]
    result = eq[0]
    for s in eq[1:]:
        result = result & s
    return result


def connect_unframer(m: Module, unframer, arbiter: "LineArbiter") -> None:
    """The DMA unframer's packets (`hdl.dma.DmaUnframer`), with their line, length and end-of-input flag,
    into the arbiter: the DMA path's wiring."""
    i = arbiter.i
    m.d.comb += [
        i.valid.eq(unframer.o.valid), unframer.o.ready.eq(i.ready), i.payload.beat.eq(unframer.o.payload),
        i.payload.line.eq(unframer.line), i.payload.end_of_input.eq(unframer.end_of_input),
        i.payload.length.eq(unframer.length),
    ]
