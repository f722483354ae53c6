"""Header capture of the Ethernet front end: the fields of the Ethernet, 802.1Q, IPv4 and UDP headers.

Offsets, sizes, the accepted VLAN tags and the fragment rule come from `protocol.net_headers` (read its
frame layout): T = 0, 1 or 2 tags, S = 14 + 4*T the IPv4 start, E = S + 4*IHL the UDP start, P = E + 8.

S and E are even and 2 (mod 4), so every 16-bit header word sits in an aligned lane pair of a beat,
and P is 2 or 6 (mod 8).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.net_headers import (
    ETH_HEADER_LEN,
    ETH_TYPE_AT,
    IPV4,
    IPV4_FRAGMENT_MASK,
    MAX_VLAN_TAGS,
    UDP,
    VLAN_TAG_LEN,
)

from .layouts import BEAT_BYTES, PacketBeat

__all__ = ["HeaderCapture", "HeaderFields"]

#: Frame bytes kept whole: beats 1..5 (bytes 8..47) hold the Ethernet type and every fixed IPv4 field for
#: up to two VLAN tags (the destination address of a doubly tagged frame ends at byte 41).
_KEPT_FIRST_BEAT = 1
_KEPT_BEATS = 5
_KEPT_FROM = _KEPT_FIRST_BEAT * BEAT_BYTES
#: Where the IPv4 header starts for 0, 1 and 2 VLAN tags (the outer and inner tag below: two at most).
_IP_STARTS = tuple(ETH_HEADER_LEN + VLAN_TAG_LEN * tags for tags in range(MAX_VLAN_TAGS + 1))
assert len(_IP_STARTS) == 3
#: Header words at offsets 22..33 lie inside every IPv4 header that passes the header check (it starts at
#: 22 at the latest and is at least 20 bytes long); the checksum sums them, and past them, up to the
#: header end E. The words before 22 that belong to the header (from S on) are added from the kept bytes.
_SUM_FROM = 22
_SUM_ALWAYS_TO = 34
#: Beats counted per frame: past the last header beat (byte 90 at most) the count saturates.
INDEX_LIMIT = 15

#: The header fields of the frame so far, as numbers (network byte order undone). Fields whose bytes
#: the frame has not yet reached hold stale values: readers check the byte count against the offsets.
HeaderFields = data.StructLayout({
    "type_end": 5,        # bytes up to and including the Ethernet type (14, 18 or 22)
    "ethertype": 16,
    "ip_start": 5,        # S
    "ip_version": 4,
    "ip_ihl": 4,          # header length in 32-bit words
    "ip_total_length": 16,
    "ip_fragment": 1,     # more-fragments flag or a fragment offset
    "ip_protocol": 8,
    "ip_dst": 32,
    "ip_checksum_ok": 1,  # valid once the frame has reached E
    "udp_start": 7,       # E
    "udp_dst_port": 16,
    "udp_length": 16,
})


def fold_ones_complement(total: Signal) -> Signal:
    """A sum of 16-bit words (less than 2**24) folded to a 16-bit one's complement sum."""
    once = total[:16] + total[16:]
    twice = once[:16] + once[16:]
    return twice[:16]


class HeaderCapture(wiring.Component):
    """Watches the beats of a frame go by and presents its header fields.

    On each `accept` (a beat of `beat` enters), `fields` are updated to include that beat from the next
    cycle on. `index` is the position in its frame of the next beat to arrive (0 after a `last` beat).
    """

    beat: In(PacketBeat)
    accept: In(1)
    index: Out(range(INDEX_LIMIT + 1))
    fields: Out(HeaderFields)

    def __init__(self, vlan_tpids: tuple[int, ...]) -> None:
        self._vlan_tpids = vlan_tpids
        super().__init__()

    def elaborate(self, platform: object) -> Module:
        m = Module()
        f = self.fields
        data_ = self.beat.data

        kept = Signal(8 * BEAT_BYTES * _KEPT_BEATS)  # frame bytes 8..47

        def byte(offset: int) -> Signal:
            return kept.word_select(offset - _KEPT_FROM, 8)

        def be16(offset: int) -> Signal:
            return Cat(byte(offset + 1), byte(offset))

        def be32(offset: int) -> Signal:
            return Cat(byte(offset + 3), byte(offset + 2), byte(offset + 1), byte(offset))

        def is_tpid(word: Signal) -> Signal:
            return Cat(word == tpid for tpid in self._vlan_tpids).any()

        # Ethernet type behind zero, one or two tags.
        outer_tag, inner_tag = Signal(), Signal()
        m.d.comb += [outer_tag.eq(is_tpid(be16(ETH_TYPE_AT))),
                     inner_tag.eq(outer_tag & is_tpid(be16(ETH_TYPE_AT + VLAN_TAG_LEN)))]

        def at_ip(offset: int, read) -> Value:
            untagged, tagged, double_tagged = (read(start + offset) for start in _IP_STARTS)
            return Mux(inner_tag, double_tagged, Mux(outer_tag, tagged, untagged))

        def ip_field(name: str) -> Value:
            field = IPV4[name]
            return at_ip(field.offset, {1: byte, 2: be16, 4: be32}[field.size])

        version_ihl = ip_field("version_ihl")
        m.d.comb += [
            f.type_end.eq(_IP_STARTS[0] + VLAN_TAG_LEN * (outer_tag + inner_tag)),
            f.ethertype.eq(at_ip(-2, be16)),
            f.ip_start.eq(f.type_end),
            f.ip_version.eq(version_ihl[4:]),
            f.ip_ihl.eq(version_ihl[:4]),
            f.ip_total_length.eq(ip_field("total_length")),
            f.ip_fragment.eq((ip_field("flags_fragment") & IPV4_FRAGMENT_MASK) != 0),
            f.ip_protocol.eq(ip_field("protocol")),
            f.ip_dst.eq(ip_field("dst")),
            f.udp_start.eq(f.ip_start + 4 * f.ip_ihl),
        ]

        # Keep beats 1..5 whole; count beats.
        index = self.index
        for n in range(_KEPT_BEATS):
            with m.If(self.accept & (index == _KEPT_FIRST_BEAT + n)):
                m.d.sync += kept.word_select(n, 8 * BEAT_BYTES).eq(data_)
        with m.If(self.accept):
            with m.If(self.beat.last):
                m.d.sync += index.eq(0)
            with m.Elif(index != INDEX_LIMIT):
                m.d.sync += index.eq(index + 1)

        # UDP fields, wherever E puts them (E is known from beat 3 on; UDP words start at beat 4).
        for field, offset, name in ((f.udp_dst_port, UDP["dst_port"].offset, "udp_dst_port_at"),
                                    (f.udp_length, UDP["length"].offset, "udp_length_at")):
            at = Signal(7, name=name)
            m.d.comb += at.eq(f.udp_start + offset)
            word = Array(data_.word_select(n, 16) for n in range(BEAT_BYTES // 2))[at[1:3]]
            with m.If(self.accept & (index == at[3:])):
                m.d.sync += field.eq(Cat(word[8:], word[:8]))

        # Header checksum: words 22.. of the header summed as the beats go by, words before 22 added at
        # the end from the kept bytes, as far as the header starts before them.
        tail_sum = Signal(24)
        word_sum = 0
        for lane in range(BEAT_BYTES // 2):
            offset = Cat(Const(2 * lane, 3), index)
            inside = (offset >= _SUM_FROM) & ((offset < _SUM_ALWAYS_TO) | (offset < f.udp_start))
            word = data_.word_select(lane, 16)
            word_sum += Mux(inside, Cat(word[8:], word[:8]), 0)
        with m.If(self.accept):
            m.d.sync += tail_sum.eq(Mux(index == _SUM_FROM // BEAT_BYTES, word_sum, tail_sum + word_sum))
        head_sum = Mux(outer_tag, 0, be16(14) + be16(16)) + Mux(inner_tag, 0, be16(18) + be16(20))
        m.d.comb += f.ip_checksum_ok.eq(fold_ones_complement(tail_sum + head_sum) == 0xFFFF)
        return m
