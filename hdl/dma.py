"""The DMA-header parser of the F1 ingress path: 64-bit words of DMA-framed packets in, MoldUDP64 packet beats out.

The host writes `protocol.moldudp64.pack_dma` batches: per packet a header (`DMA_HEADER`: length, flags,
reserved, rx_time_ns; little-endian), the packet, zeros to a multiple of `DMA_ALIGN` bytes. The flags
(`DmaFlag`) say the packet's line (`LINE_B`) and the end of the input (`END_OF_INPUT`), as the host and the C++
card frame two lines (`model.lines`); they leave on `line` and `end_of_input`, beside `rx_time` and `length`.
A record flagged END_OF_INPUT of length 0 carries no packet: it leaves as one beat with `nbytes` 0, `last`,
`end_of_input` and `length` 0, for the line arbiter (`hdl.lines`) to end the input on; with a packet, its
beats carry `end_of_input` (the packet is fed, then the input ends). Words arrive
little-endian (byte 0 in bits 0-7), one a cycle; the payload words leave as `PacketBeat`s one a cycle, the
same word with `nbytes` and `last` added (the padding bytes of the last beat are the host's zeros).

Every length the header can say is a packet (the rule of `model.session`, issue 17): 1..`max_length` bytes
pass; an empty packet leaves as one beat with `nbytes` 0 and `last` (the decoder counts it a packet,
malformed, as the model does); a longer one (an image built with a `max_length` under `MAX_PACKET`) is
skipped whole, its words counted skipped, and `oversize` pulses once (the register map's
`packets_oversize`).

Framing and resynchronisation. A header is accepted in sync when its reserved bits (the flags but
`DmaFlag`'s, the reserved field) are zero, as the host writes them. Otherwise the framing is lost:
`dma_bad_length` pulses once and the unframer hunts for the next header by sliding a header-sized window one
word at a time; a window is taken as a header when its length is 1..`max_length` and its reserved bits are
zero. Each word discarded while
hunting (the bad header's words included) or skipped with an oversize packet pulses `dma_skipped` once, so
words in = header words + payload words + skipped words, always. A MoldUDP64 packet starts with ten ASCII
session bytes, never six zero bytes, so a hunt usually resynchronises on the next true header; binary
message bytes can fool it, which the decoder's own checks (session, counts, lengths) then count. The
pipeline counts the pulses in the register map's `dma_bad_length` and `dma_skipped_words`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.moldudp64 import DMA_ALIGN, DMA_HEADER, DMA_HEADER_LEN, MAX_PACKET, DmaFlag

from .layouts import BEAT_BYTES, PacketBeat

__all__ = ["DMA_WORD_BITS", "HEADER_WORDS", "DmaUnframer"]

DMA_WORD_BITS = 8 * BEAT_BYTES
#: Words of the per-packet header.
HEADER_WORDS = DMA_HEADER_LEN // BEAT_BYTES
if DMA_HEADER_LEN % BEAT_BYTES or DMA_ALIGN != BEAT_BYTES or HEADER_WORDS < 1:
    raise AssertionError("the DMA header and alignment must be whole 64-bit words")

_FIELDS = {f.name: f for f in DMA_HEADER}
_LENGTH, _RX_TIME = _FIELDS["length"], _FIELDS["rx_time_ns"]
_RESERVED = tuple(f for f in DMA_HEADER if f.name not in ("length", "rx_time_ns", "flags"))
_FLAGS_RESERVED = ((1 << 8 * _FIELDS["flags"].width) - 1) & ~int(DmaFlag.LINE_B | DmaFlag.END_OF_INPUT)


def _field(header, name: str):
    """Bits of field `name` of a header value (byte 0 in bits 0-7; fields are little-endian)."""
    f = _FIELDS[name]
    return header[8 * f.offset:8 * (f.offset + f.width)]


class DmaUnframer(wiring.Component):
    """DMA-framed packets as 64-bit words (`i`) in; `PacketBeat`s (`o`) out, with `rx_time` of the packet on `o`.

    `max_length` (default `MAX_PACKET`) is the longest packet passed; see the module docstring for framing,
    resynchronisation and the `dma_bad_length` / `dma_skipped` / `oversize` pulses (one cycle each per
    event). `o` is the input word itself (no register): `i.ready` is `o.ready` during a packet and high
    between packets.
    `rx_time`, `length`, `line` and `end_of_input` change only between packets: the header's `rx_time_ns`,
    `length` and flags (`DmaFlag.LINE_B`, `DmaFlag.END_OF_INPUT`) of every beat on `o`.
    """

    def __init__(self, *, max_length: int = MAX_PACKET) -> None:
        limit = (1 << 8 * _LENGTH.width) - 1
        if not isinstance(max_length, int) or isinstance(max_length, bool) or not 1 <= max_length <= limit:
            raise ValueError(f"max_length must be an integer from 1 to {limit}, not {max_length!r}")
        self.max_length = max_length
        super().__init__({
            "i": In(stream.Signature(unsigned(DMA_WORD_BITS))),
            "o": Out(stream.Signature(PacketBeat)),
            "rx_time": Out(8 * _RX_TIME.width),
            "length": Out(8 * _LENGTH.width),
            "line": Out(1),
            "end_of_input": Out(1),
            "dma_bad_length": Out(1),
            "dma_skipped": Out(1),
            "oversize": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        take = self.i.valid & self.i.ready
        word = self.i.payload

        # The header window: the words before this one (oldest first), then this word.
        before = [Signal(DMA_WORD_BITS, name=f"hdr{n}") for n in range(HEADER_WORDS - 1)]
        window = Cat(*before, word)
        filled = Signal(range(HEADER_WORDS))  # header words held in `before` while in sync
        length = _field(window, "length")
        limit = (1 << len(length)) - 1
        length_ok = (length != 0) & (length <= self.max_length) if self.max_length < limit else length != 0
        flags = _field(window, "flags")
        reserved_zero = ((flags & _FLAGS_RESERVED) == 0) & (
            Cat(*(_field(window, f.name) for f in _RESERVED)) == 0 if _RESERVED else Const(1))
        end_flag = flags[DmaFlag.END_OF_INPUT.bit_length() - 1]

        remaining = Signal(8 * _LENGTH.width)  # payload bytes still to pass, during a packet
        m.d.comb += [
            self.o.payload.data.eq(word),
            self.o.payload.nbytes.eq(Mux(remaining >= BEAT_BYTES, BEAT_BYTES, remaining)),
            self.o.payload.last.eq(remaining <= BEAT_BYTES),
        ]
        m.d.sync += [self.dma_bad_length.eq(0), self.dma_skipped.eq(0), self.oversize.eq(0)]

        def shift() -> list:
            return [a.eq(b) for a, b in zip(before, [*before[1:], word], strict=True)]

        def start_packet() -> list:
            return [remaining.eq(length), self.rx_time.eq(_field(window, "rx_time_ns")), filled.eq(0),
                    self.length.eq(length), self.line.eq(flags[DmaFlag.LINE_B.bit_length() - 1]),
                    self.end_of_input.eq(end_flag)]

        with m.FSM(name="unframe"):
            with m.State("HEADER"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(take):
                    with m.If(filled < HEADER_WORDS - 1):
                        m.d.sync += [*shift(), filled.eq(filled + 1)]
                    with m.Elif(~reserved_zero):  # framing lost: the oldest word leaves the window, the hunt starts
                        m.d.sync += [*shift(), self.dma_bad_length.eq(1), self.dma_skipped.eq(1)]
                        m.next = "HUNT"
                    with m.Elif(length == 0):
                        m.d.sync += start_packet()
                        m.next = "EMPTY"
                    with m.Elif(length_ok):
                        m.d.sync += start_packet()
                        m.next = "PAYLOAD"
                    with m.Else():
                        m.d.sync += [*start_packet(), self.oversize.eq(1)]
                        m.next = "SKIP"
            with m.State("HUNT"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(take):
                    with m.If(length_ok & reserved_zero):
                        m.d.sync += start_packet()
                        m.next = "PAYLOAD"
                    with m.Else():
                        m.d.sync += [*shift(), self.dma_skipped.eq(1)]
            with m.State("EMPTY"):  # one beat of no bytes (an empty packet, or the end of input); no input taken
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(0)]
                with m.If(self.o.ready):
                    m.next = "HEADER"
            with m.State("SKIP"):  # an oversize packet's words, dropped
                m.d.comb += self.i.ready.eq(1)
                with m.If(take):
                    m.d.sync += [remaining.eq(remaining - BEAT_BYTES), self.dma_skipped.eq(1)]
                    with m.If(remaining <= BEAT_BYTES):
                        m.next = "HEADER"
            with m.State("PAYLOAD"):
                m.d.comb += [self.i.ready.eq(self.o.ready), self.o.valid.eq(self.i.valid)]
                with m.If(take):
                    m.d.sync += remaining.eq(remaining - BEAT_BYTES)
                    with m.If(remaining <= BEAT_BYTES):
                        m.next = "HEADER"
        return m
