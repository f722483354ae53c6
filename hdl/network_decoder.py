"""The decoder of a network-attached card: Ethernet frames in, decoded records out.

    i (frames) ─► EthernetFrontEnd ──(MoldUDP64 packets)──► ItchDecoder ─► o (records)
"""

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .decoder import DECODER_COUNTERS, ItchDecoder
from .ethernet import ETH_COUNTERS, EthernetFrontEnd
from .layouts import DecodedRecord, PacketBeat
from .moldudp64 import SessionConfig, SessionStatus

__all__ = ["NETWORK_DECODER_COUNTERS", "NetworkConfig", "NetworkDecoder"]

#: Which UDP datagrams the front end passes on (a filter is off while its `_check` bit is 0).
NetworkConfig = data.StructLayout({
    "dst_ip": 32,
    "dst_ip_check": 1,
    "dst_port": 16,
    "dst_port_check": 1,
    "ignore_ip_checksum": 1,
})

NETWORK_DECODER_COUNTERS: tuple[str, ...] = (*ETH_COUNTERS, *DECODER_COUNTERS)


class NetworkDecoder(wiring.Component):
    """Ethernet frames (`PacketBeat`) in, `DecodedRecord`s out; the counters of both stages."""

    def __init__(self, *, output_depth: int = 2) -> None:
        self._decoder = ItchDecoder(output_depth=output_depth)
        super().__init__({
            "i": In(stream.Signature(PacketBeat)),
            "o": Out(stream.Signature(DecodedRecord)),
            "net": In(NetworkConfig),
            "cfg": In(SessionConfig),
            "status": Out(SessionStatus),
            "counters": Out(data.StructLayout(dict.fromkeys(NETWORK_DECODER_COUNTERS, 64))),
            "clear_counters": In(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.front_end = front_end = EthernetFrontEnd()
        m.submodules.decoder = decoder = self._decoder
        wiring.connect(m, wiring.flipped(self.i), front_end.i)
        wiring.connect(m, front_end.o, decoder.i)
        wiring.connect(m, decoder.o, wiring.flipped(self.o))
        m.d.comb += [
            front_end.dst_ip.eq(self.net.dst_ip),
            front_end.dst_ip_check.eq(self.net.dst_ip_check),
            front_end.dst_port.eq(self.net.dst_port),
            front_end.dst_port_check.eq(self.net.dst_port_check),
            front_end.ignore_ip_checksum.eq(self.net.ignore_ip_checksum),
            decoder.cfg.eq(self.cfg),
            front_end.clear_counters.eq(self.clear_counters), decoder.clear_counters.eq(self.clear_counters),
            self.status.eq(decoder.status),
        ]
        for name in ETH_COUNTERS:
            m.d.comb += self.counters[name].eq(front_end.counters[name])
        for name in DECODER_COUNTERS:
            m.d.comb += self.counters[name].eq(decoder.counters[name])
        return m
