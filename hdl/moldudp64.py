"""The MoldUDP64 receive session in gateware: one verdict per packet header, as `model.session` rules.

The framer offers each complete header; the session answers in the same cycle whether to frame the
packet's blocks (and how many at its head were seen already), updates the session state, counts, and
queues the notices the packet raises (session changed, gap, end of session) ahead of its messages.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.decoded import Notice
from tickgate.protocol.moldudp64 import END_OF_SESSION, HEADER, HEADER_LEN

from .fields import big_endian
from .layouts import DecodedRecord

__all__ = ["COUNT_BITS", "HEADER_LEN", "SEQ_BITS", "SESSION_BITS", "HeaderBeat", "MoldHeader", "SessionConfig",
           "SessionCounts", "SessionStatus", "SessionTracker", "Verdict"]

#: The 20-byte MoldUDP64 header as wire bytes (byte 0 in bits 0-7), from `protocol.moldudp64.HEADER`.
MoldHeader = data.StructLayout({f.name: 8 * f.width for f in HEADER})
SESSION_BITS, SEQ_BITS, COUNT_BITS = (8 * f.width for f in HEADER)  # session, sequence number, count

#: A complete header as the framer offers it; `bare` says the packet is the header and nothing more.
HeaderBeat = data.StructLayout({"wire": MoldHeader, "bare": 1})

#: Configuration, read at each header. With `session_en` the session is fixed (lane order, as on the
#: wire) until an end of session; without it the first packet sets it. With `first_sequence_en` the
#: sequence number expected first is `first_sequence` (so the first packet can reveal a gap or repeat
#: messages); without it, the first packet's own. As `model.session.MoldSession`'s arguments.
SessionConfig = data.StructLayout({
    "session": SESSION_BITS,
    "session_en": 1,
    "first_sequence": SEQ_BITS,
    "first_sequence_en": 1,
})

#: The framer's instructions for the packet whose header was just offered.
Verdict = data.StructLayout({
    "frame": 1,  # frame its message blocks (a new data packet of this session)
    "skip": COUNT_BITS,  # messages at its head that were seen already
})

SessionCounts = data.StructLayout({
    "packets_heartbeat": 1,
    "packets_end_of_session": 1,
    "packets_duplicate": 1,
    "packets_wrong_session": 1,
    "packets_malformed": 1,
    "session_changes": 1,
    "seq_gaps": 1,
    "messages_missed": SEQ_BITS,
})

SessionStatus = data.StructLayout({"locked": 1, "ended": 1})


class SessionTracker(wiring.Component):
    """Session, expected sequence and end-of-session state; verdicts, notices and session counters.

    `header` is ready only while no notice is waiting, so a packet's notices always leave before
    anything the next header could cause. `verdict` is combinational on `header.payload`.
    """

    header: In(stream.Signature(HeaderBeat))
    verdict: Out(Verdict)
    cfg: In(SessionConfig)
    notice: Out(stream.Signature(DecodedRecord))
    counts: Out(SessionCounts)
    status: Out(SessionStatus)

    def elaborate(self, platform) -> Module:
        m = Module()

        locked = Signal()  # a session is known
        current = Signal(len(self.cfg.session))  # the session locked on
        expected = Signal(SEQ_BITS + 1)  # as the model, not bounded by the wire field: seq + count may carry
        expected_valid = Signal()
        ended = Signal()

        hdr = self.header.payload.wire
        pkt_session = hdr.session
        seq = big_endian(hdr.sequence_number)
        count = big_endian(hdr.message_count)
        cfg = self.cfg

        # Session: locked, configured, or taken from this packet.
        known = locked | cfg.session_en
        mismatch = known & (pkt_session != Mux(locked, current, cfg.session))
        wrong = mismatch & ~ended
        change = mismatch & ended
        exp = Mux(change | ~expected_valid, Mux(cfg.first_sequence_en & ~change, cfg.first_sequence, seq), expected)

        # Sequencing.
        heartbeat = count == 0
        end_of_session = count == END_OF_SESSION
        data_packet = ~heartbeat & ~end_of_session
        packet_end = seq + count
        duplicate = data_packet & (packet_end <= exp)
        gap = seq > exp  # never with `duplicate`: that needs seq < exp
        frame = ~wrong & data_packet & ~duplicate
        end_notice = end_of_session & (change | ~ended)

        m.d.comb += [
            self.verdict.frame.eq(frame),
            self.verdict.skip.eq(Mux(gap, 0, exp - seq)),  # < count when framed
            self.status.locked.eq(locked),
            self.status.ended.eq(ended),
        ]

        # Notices: at most two per packet (session changed or gap, then end of session).
        kinds = Signal(data.ArrayLayout(8, 2))
        pending = Signal(range(3))
        n_seq = Signal(SEQ_BITS)
        n_ref = Signal(SEQ_BITS)
        n_session = Signal(len(current))
        m.d.comb += self.header.ready.eq(pending == 0)

        take = self.header.valid & self.header.ready
        with m.If(take & ~wrong):
            first = Mux(change, Notice.SESSION_CHANGED, Mux(gap, Notice.GAP, Notice.END_OF_SESSION))
            m.d.sync += [
                locked.eq(1),
                current.eq(pkt_session),
                expected_valid.eq(1),
                expected.eq(Mux(frame, packet_end, Mux(gap, seq, exp))),
                ended.eq(Mux(end_of_session, 1, Mux(change, 0, ended))),
                kinds[0].eq(first),
                kinds[1].eq(Notice.END_OF_SESSION),
                pending.eq(change + gap + end_notice),
                n_seq.eq(seq),
                n_ref.eq(exp),
                n_session.eq(pkt_session),
            ]
        with m.If(self.notice.valid & self.notice.ready):
            m.d.sync += [kinds[0].eq(kinds[1]), pending.eq(pending - 1)]

        counts = self.counts
        m.d.comb += [
            counts.packets_wrong_session.eq(take & wrong),
            counts.packets_heartbeat.eq(take & ~wrong & heartbeat),
            counts.packets_end_of_session.eq(take & ~wrong & end_of_session),
            counts.packets_malformed.eq(take & ~wrong & ~data_packet & ~self.header.payload.bare),
            counts.packets_duplicate.eq(take & ~wrong & duplicate),
            counts.session_changes.eq(take & change),
            counts.seq_gaps.eq(take & ~wrong & gap),
            counts.messages_missed.eq(Mux(take & ~wrong & gap, seq - exp, 0)),
        ]

        rec = self.notice.payload
        is_gap = kinds[0] == Notice.GAP
        m.d.comb += [
            self.notice.valid.eq(pending != 0),
            rec.notice.eq(kinds[0]),
            rec.seq.eq(n_seq),
            rec.ref.eq(Mux(is_gap, n_ref, 0)),
            rec.session.eq(Mux(is_gap, 0, n_session)),
        ]
        return m
