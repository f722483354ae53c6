"""The header table: its offsets against dpkt's parse of a frame, the checksum rules, and the one deliberate
difference between the card and the capture reader (which VLAN tags each takes)."""

import struct

import dpkt
import pytest

from tickgate.model.frontend import ReferenceFrontEnd
from tickgate.protocol.net_headers import (
    CAPTURE_VLAN_TPIDS,
    ETH_HEADER_LEN,
    IPV4,
    MAX_VLAN_TAGS,
    UDP,
    VLAN_TPIDS,
    ipv4_checksum,
    ones_complement_sum,
)
from tickgate.protocol.pcap import PcapReader, udp_frame


def test_offsets_against_dpkt():
    frame = udp_frame(b"x" * 30, ("10.1.2.3", 4000), ("233.54.12.111", 26477), ident=7)
    eth = dpkt.ethernet.Ethernet(frame)
    ip, udp = eth.data, eth.data.data
    start = ETH_HEADER_LEN
    assert IPV4["total_length"].read(frame, start) == ip.len
    assert IPV4["ident"].read(frame, start) == ip.id == 7
    assert IPV4["protocol"].read(frame, start) == ip.p == 17
    assert IPV4["checksum"].read(frame, start) == ip.sum
    assert IPV4["src"].read(frame, start).to_bytes(4, "big") == ip.src
    assert IPV4["dst"].read(frame, start).to_bytes(4, "big") == ip.dst
    at = start + 4 * (IPV4["version_ihl"].read(frame, start) & 0x0F)
    assert (UDP["src_port"].read(frame, at), UDP["dst_port"].read(frame, at)) == (udp.sport, udp.dport)
    assert UDP["length"].read(frame, at) == udp.ulen == 38
    with pytest.raises(IndexError, match="past the end"):
        UDP["checksum"].read(frame[: at + 7], at)


def test_checksums():
    header = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")  # RFC 1071 style example
    check = ipv4_checksum(header)
    assert check == 0xB861
    filled = header[:10] + check.to_bytes(2, "big") + header[12:]
    assert ones_complement_sum(filled) == 0xFFFF and ipv4_checksum(filled) == 0
    with pytest.raises(ValueError, match="16-bit words"):
        ones_complement_sum(b"\x01")


def _tagged(tpids: tuple[int, ...]) -> bytes:
    frame = udp_frame(b"\0" * 20 + b"payload!", ("10.0.0.1", 1), ("10.0.0.2", 2))
    tags = b"".join(struct.pack("!HH", tpid, 5) for tpid in tpids)
    return frame[:12] + tags + frame[12:]


@pytest.mark.parametrize("tpids", [(0x9100,), (0x8100, 0x8100, 0x88A8)])
def test_the_reader_takes_tags_the_card_refuses(tpids):
    """The named difference: the capture reader decodes these frames, the card counts them not IPv4."""
    assert set(VLAN_TPIDS) < set(CAPTURE_VLAN_TPIDS) and MAX_VLAN_TAGS == 2
    frame = _tagged(tpids)
    reader = PcapReader(b"")
    assert reader._decode(0, 1, frame).payload.endswith(b"payload!")
    card = ReferenceFrontEnd()
    assert card.frame(frame) is None and card.counters["eth_not_ipv4"] == 1


@pytest.mark.parametrize("tpids", [(), (0x8100,), (0x88A8, 0x8100)])
def test_both_take_the_cards_tags(tpids):
    frame = _tagged(tpids)
    assert PcapReader(b"")._decode(0, 1, frame).payload.endswith(b"payload!")
    assert ReferenceFrontEnd().frame(frame).endswith(b"payload!")
