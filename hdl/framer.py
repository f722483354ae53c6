"""MoldUDP64 framing: packet beats in, the header offered to the session, whole messages out.

A byte-position machine. Each cycle it works on one beat from a start lane: it finishes the current
block (the 2-byte big-endian length prefix, then the message) and, if that block ends inside the beat,
reads the next block's prefix and starts its message in the same cycle. So one message can complete
per cycle and every well-formed stream (messages of 12 bytes or more) runs at one beat per cycle. Only
when a second message would also end inside the same beat (malformed tiny messages) is the beat held
back and finished in the next cycle (`i.ready` low), from the lane where that message starts.

Message bytes go into a message-aligned buffer (buffer byte j from beat lane `start + j - taken`, through
one byte rotation of the beat), which is copied to the output register in the cycle the message ends.
Accounting follows `model.session`: a block running past the packet end is truncated, a packet that ends
inside a length prefix has fewer blocks than its count, bytes after the last counted block are extra.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.moldudp64 import BLOCK_LEN

from .fields import KEPT_BYTES, FramedMessage, big_endian
from .layouts import BEAT_BYTES, PacketBeat
from .moldudp64 import COUNT_BITS, HEADER_LEN, SEQ_BITS, HeaderBeat, MoldHeader, Verdict

__all__ = ["Framer", "FramerCounts"]

HEADER_BEATS = HEADER_LEN // BEAT_BYTES  # whole beats of header before the beat it ends in
HEADER_TAIL = HEADER_LEN % BEAT_BYTES  # header bytes in that beat; blocks start in the lane after
PREFIX = BLOCK_LEN  # bytes of a block's length prefix
assert HEADER_TAIL > 0, "the framer expects the header to end inside a beat, where the first block starts"

FramerCounts = data.StructLayout({
    "packets": 1,
    "packets_malformed": 1,
    "msg_truncated": 1,
    "messages": 1,  # a truncated block still counts as a message, as in the model
})


class Phase(enum.Enum, shape=2):
    HEADER = 0  # collecting the MoldUDP64 header
    BLOCKS = 1  # framing message blocks
    DRAIN = 2  # discarding the rest of the packet


class Framer(wiring.Component):
    """Frames MoldUDP64 packets into messages, under the session's verdict on each header."""

    i: In(stream.Signature(PacketBeat))
    header: Out(stream.Signature(HeaderBeat))
    verdict: In(Verdict)
    o: Out(stream.Signature(FramedMessage))
    counts: Out(FramerCounts)

    def elaborate(self, platform) -> Module:
        m = Module()

        # The beat being worked on: the input's, or one held back to be finished (`replaying`).
        held = Signal(PacketBeat)
        replaying = Signal()
        resume = Signal(range(BEAT_BYTES))  # lane to resume a held beat at
        beat = Signal(PacketBeat)
        nbytes = Signal(range(BEAT_BYTES + 1))  # bytes in the beat: `nbytes` on the last (1..8), else 8
        last = beat.last
        m.d.comb += [
            beat.eq(Mux(replaying, held, self.i.payload)),
            nbytes.eq(Mux(last & (beat.nbytes != 0) & (beat.nbytes <= BEAT_BYTES), beat.nbytes, BEAT_BYTES)),
        ]
        have = replaying | self.i.valid
        twice = Cat(beat.data, beat.data)

        def rotated(first_lane):
            """The beat's bytes from `first_lane` on, wrapping: result byte k is lane first + k (mod 8)."""
            return (twice >> (first_lane[:3] * 8))[:8 * BEAT_BYTES]

        # Header collection.
        phase = Signal(Phase)
        hdr_beat = Signal(range(HEADER_BEATS + 1))
        hdr = Signal(8 * BEAT_BYTES * HEADER_BEATS)
        at_header_end = (phase == Phase.HEADER) & (hdr_beat == HEADER_BEATS)
        short = (phase == Phase.HEADER) & last & ((hdr_beat < HEADER_BEATS) | (nbytes < HEADER_TAIL))

        out_free = ~self.o.valid | self.o.ready
        blocked = at_header_end & ~self.header.ready  # a packet's notices must leave before the next header
        go = have & out_free & ~blocked
        header = MoldHeader(Cat(hdr, beat.data[:8 * HEADER_TAIL]))
        m.d.comb += [
            self.i.ready.eq(~replaying & out_free & ~blocked),
            self.header.valid.eq(have & out_free & at_header_end & ~short),
            self.header.payload.wire.eq(header),
            self.header.payload.bare.eq(last & (nbytes == HEADER_TAIL)),
        ]
        hdr_seq = big_endian(header.sequence_number)
        hdr_count = big_endian(header.message_count)

        # Block state.
        pfx = Signal(range(PREFIX + 1))  # prefix bytes of the current block seen (2: in its message)
        hi = Signal(8)  # the prefix's first byte, when it ended a beat
        length = Signal(8 * PREFIX)
        rem = Signal(8 * PREFIX)  # message bytes still to come
        taken = Signal(range(KEPT_BYTES + BEAT_BYTES + 1))  # message bytes seen, stopping at KEPT_BYTES
        idx = Signal(COUNT_BITS)  # block index in the packet
        count = Signal(COUNT_BITS)
        skip = Signal(COUNT_BITS)
        seq = Signal(SEQ_BITS)
        buf = Signal(8 * KEPT_BYTES)

        # The current block (A): continued from the registers or, at the header's end, a fresh one. Most
        # values are plain expressions; the few Signals name the nets worth seeing in a waveform (and keep
        # Amaranth's simulator and netlist checks fast).
        first = phase == Phase.HEADER
        a_start = Mux(first, HEADER_TAIL, Mux(replaying, resume, 0))  # its first lane in this beat
        a_pfx = Mux(first, 0, pfx)
        a_idx = Mux(first, 0, idx)
        a_count = Mux(first, hdr_count, count)
        a_skip = Mux(first, self.verdict.skip, skip)
        a_seq = Mux(first, hdr_seq, seq)
        a_taken = Mux(first, 0, taken)
        a_lanes = rotated(a_start)
        a_avail = nbytes - a_start
        a_has_len = Mux(a_pfx == 2, 1, Mux(a_pfx == 1, a_avail >= 1, a_avail >= 2))  # its prefix is complete
        a_body = a_start + PREFIX - a_pfx  # lane of its next message byte
        a_room = nbytes - a_body
        a_len = Signal(8 * PREFIX)  # its message length
        a_done = Signal()  # its message ends in this beat
        a_take = Signal(8 * PREFIX)  # message bytes taken from this beat
        a_end = Signal(5)  # lane after its last byte, when it ends here
        m.d.comb += a_len.eq(Mux(a_pfx == 2, length, Mux(a_pfx == 1, Cat(a_lanes[:8], hi),
                                                          Cat(a_lanes[8:16], a_lanes[:8]))))
        a_rem = Mux(a_pfx == 2, rem, a_len)
        m.d.comb += [
            a_done.eq(a_has_len & (a_rem <= a_room)),
            a_take.eq(Mux(a_has_len, Mux(a_rem <= a_room, a_rem, a_room), 0)),
            a_end.eq(a_body + a_rem),
        ]

        # The next block (B), when A ends inside the beat and is not the packet's last.
        b_exists = a_done & (a_idx + 1 != a_count)
        b_start = a_end
        b_lanes = rotated(b_start)
        b_avail = nbytes - b_start
        b_len = Cat(b_lanes[8:16], b_lanes[:8])
        b_room = b_avail - PREFIX
        b_has_len = b_avail >= PREFIX
        b_done = b_has_len & (b_len <= b_room)
        defer = b_exists & b_done  # B ends in this beat too: finish the beat next cycle from its start
        b_fill = b_exists & b_has_len & ~b_done
        extra = a_done & ~b_exists & ((b_avail != 0) | ~last)  # bytes after the last counted block

        # Message bytes into the aligned buffer: A's after the bytes it has, B's from byte 0. Buffer byte j
        # takes byte j mod 8 of the beat rotated to (first message lane - message bytes before it); bytes past
        # those written are don't-care until they are written in turn.
        width = 8 * KEPT_BYTES
        copies = -(-KEPT_BYTES // BEAT_BYTES)
        rot_a = Signal(8 * BEAT_BYTES)
        rot_b = Signal(8 * BEAT_BYTES)
        keep = Signal(width)  # A's bytes already in the buffer
        m.d.comb += [
            rot_a.eq(rotated(a_body - a_taken)),
            rot_b.eq(rotated(b_start + PREFIX)),
            keep.eq((Const(1) << (a_taken * 8)) - 1),
        ]
        buf_a = (buf & keep) | (Cat(*[rot_a] * copies)[:width] & ~keep)
        buf_next = Mux(b_fill, Cat(*[rot_b] * copies)[:width], buf_a)

        def end_packet(has_len):
            """The block in progress: on the packet's last beat it is truncated, or its prefix is cut."""
            with m.If(last):
                m.d.sync += phase.eq(Phase.HEADER)
                m.d.comb += [
                    self.counts.packets_malformed.eq(1),
                    self.counts.msg_truncated.eq(has_len),
                    self.counts.messages.eq(has_len),
                ]
            with m.Else():
                m.d.sync += phase.eq(Phase.BLOCKS)

        def frame_blocks():
            """Advance the block state over this beat (the statements of one cycle)."""
            m.d.sync += [buf.eq(buf_next), idx.eq(a_idx), seq.eq(a_seq), count.eq(a_count), skip.eq(a_skip)]
            with m.If(a_done):
                m.d.sync += [
                    self.o.valid.eq(1),
                    self.o.payload.data.eq(buf_a),
                    self.o.payload.length.eq(a_len),
                    self.o.payload.seq.eq(a_seq),
                    self.o.payload.duplicate.eq(a_idx < a_skip),
                    idx.eq(a_idx + 1),
                    seq.eq(a_seq + 1),
                ]
                with m.If(defer):
                    m.d.sync += [replaying.eq(1), held.eq(beat), resume.eq(b_start), pfx.eq(0), taken.eq(0),
                                 phase.eq(Phase.BLOCKS)]
                with m.Elif(b_exists):
                    m.d.sync += [
                        replaying.eq(0),
                        pfx.eq(Mux(b_has_len, 2, b_avail)),
                        hi.eq(b_lanes[:8]),
                        length.eq(b_len),
                        rem.eq(b_len - b_room),
                        taken.eq(Mux(b_has_len, b_room, 0)),
                    ]
                    end_packet(b_has_len)
                with m.Else():
                    m.d.sync += [replaying.eq(0), phase.eq(Mux(last, Phase.HEADER, Phase.DRAIN))]
                    m.d.comb += self.counts.packets_malformed.eq(extra)
            with m.Else():
                total = a_taken + a_take
                m.d.sync += [
                    replaying.eq(0),
                    pfx.eq(Mux(a_has_len, 2, a_pfx + a_avail)),
                    hi.eq(Mux(a_pfx == 0, a_lanes[:8], hi)),
                    length.eq(a_len),
                    rem.eq(a_rem - a_take),
                    taken.eq(Mux(total > KEPT_BYTES, KEPT_BYTES, total)),
                ]
                end_packet(a_has_len)

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.If(go), m.Switch(phase):
            with m.Case(Phase.HEADER):
                with m.If(hdr_beat == 0):
                    m.d.comb += self.counts.packets.eq(1)
                with m.If(short):
                    m.d.sync += hdr_beat.eq(0)
                    m.d.comb += self.counts.packets_malformed.eq(1)
                with m.Elif(hdr_beat < HEADER_BEATS):
                    m.d.sync += [hdr_beat.eq(hdr_beat + 1), hdr.eq(Cat(hdr[8 * BEAT_BYTES:], beat.data))]
                with m.Else():
                    m.d.sync += hdr_beat.eq(0)
                    with m.If(self.verdict.frame):
                        frame_blocks()
                    with m.Else():
                        m.d.sync += phase.eq(Mux(last, Phase.HEADER, Phase.DRAIN))
            with m.Case(Phase.BLOCKS):
                frame_blocks()
            with m.Case(Phase.DRAIN), m.If(last):
                m.d.sync += phase.eq(Phase.HEADER)
        return m
