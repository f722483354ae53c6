"""pcap/pcapng reading, classification and writing, on the real captures in ../shared/data/pcap."""

from __future__ import annotations

import gzip
import socket
import struct
from decimal import Decimal
from pathlib import Path

import dpkt
import pytest

from tickgate.protocol import itch, moldudp64
from tickgate.protocol.packet import Packet
from tickgate.protocol.pcap import PcapReader, classify, ipv4_checksum, read_pcap, udp_frame, write_pcap

PCAP_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pcap"
ALL = sorted(PCAP_DIR.rglob("*.pcap"))
ITCH = [p for p in ALL if "Itch" in p.parent.name]
OUCH = [p for p in ALL if "Ouch" in p.parent.name]
needs_data = pytest.mark.skipif(not PCAP_DIR.is_dir(), reason="../shared/data is not present")
ids = lambda p: f"{p.parent.name}/{p.name}"  # noqa: E731


def _dpkt_records(path: Path) -> list[tuple[int, bytes]]:
    """(exact ns, frame) from dpkt's own reader: Decimal seconds for nanosecond files, float otherwise."""
    with open(path, "rb") as f:
        out = []
        for ts, buf in dpkt.pcap.Reader(f):
            ns = int(ts * 10**9) if isinstance(ts, Decimal) else round(ts * 1e6) * 1000
            out.append((ns, buf))
        return out


@needs_data
@pytest.mark.parametrize("path", ALL, ids=ids)
def test_every_capture_matches_dpkt(path: Path) -> None:
    r = PcapReader(path)
    frames = list(r)
    records = _dpkt_records(path)
    assert len(frames) == len(records) == r.frames > 0
    assert r.udp + r.tcp == r.frames and r.truncated == r.fragments == r.non_ipv4 == 0
    for fr, (ns, buf) in zip(frames, records, strict=True):
        assert fr.ts_ns == ns
        ip = dpkt.ethernet.Ethernet(buf).data
        l4 = ip.data
        assert (fr.src, fr.dst) == (socket.inet_ntoa(ip.src), socket.inet_ntoa(ip.dst))
        assert (fr.sport, fr.dport) == (l4.sport, l4.dport)
        assert fr.proto == ("udp" if isinstance(l4, dpkt.udp.UDP) else "tcp")
        assert fr.payload == bytes(l4.data)


@needs_data
@pytest.mark.parametrize("path", ITCH, ids=ids)
def test_itch_captures_are_moldudp64_and_every_message_round_trips(path: Path) -> None:
    frames = list(read_pcap(path))
    assert frames and all(f.proto == "udp" for f in frames)
    n = 0
    for f in frames:
        assert classify(f.payload, f.proto) == "moldudp64"
        assert classify(f.payload, "tcp") != "soupbintcp" or len(f.payload) == 0
        hdr = moldudp64.parse_header(f.payload)
        msgs = list(moldudp64.blocks(f.payload))
        assert len(msgs) == hdr.message_count
        for m in msgs:
            assert itch.encode(itch.decode(m)) == m
        n += len(msgs)
    assert n > 0
    if path.parent.name.endswith(".20230822"):  # zeroed MoldUDP64 headers, real ITCH bodies
        assert all(f.payload[:18] == bytes(18) for f in frames)


@needs_data
def test_multiple_packets_capture() -> None:
    frames = list(read_pcap(PCAP_DIR / "Nasdaq.Equities.TotalView.Itch.v5.0" / "Multiple.Packets.pcap"))
    big = [f for f in frames if moldudp64.parse_header(f.payload).message_count == 38]
    assert len(big) == 1
    f = big[0]
    assert len(f.payload) == 1472 and f.dport == 26477
    assert moldudp64.parse_header(f.payload).session == b"000010059B"
    assert len(list(moldudp64.blocks(f.payload))) == 38


@needs_data
def test_bx_capture_session_and_port() -> None:
    for p in (PCAP_DIR / "Bx.Equities.TotalView.Itch.v5.0").glob("*.pcap"):
        for f in read_pcap(p):
            assert f.dport == 25475 and moldudp64.parse_header(f.payload).session == b"000010059D"


@needs_data
@pytest.mark.parametrize("path", OUCH, ids=ids)
def test_ouch_captures_are_soupbintcp_not_moldudp64(path: Path) -> None:
    frames = list(read_pcap(path))
    assert frames and all(f.proto == "tcp" for f in frames)
    for f in frames:
        assert classify(f.payload, "tcp") == "soupbintcp"
        assert classify(f.payload, "udp") != "moldudp64"


def test_classify_synthetic() -> None:
    assert classify(moldudp64.heartbeat("S", 5), "udp") == "moldudp64"
    assert classify(moldudp64.end_of_session("S", 5), "udp") == "moldudp64"
    pkt = moldudp64.build("S", 1, [b"abc", b"de"])
    assert classify(pkt, "udp") == "moldudp64"
    assert classify(pkt + b"\x00", "udp") == "unknown"  # does not frame the payload exactly
    assert classify(pkt[:-1], "udp") == "unknown"
    assert classify(moldudp64.heartbeat("S", 5) + b"x", "udp") == "unknown"
    assert classify(pkt[:19], "udp") == "unknown"
    assert classify(pkt, "tcp") == "unknown"
    assert classify(b"\x00\x01H\x00\x05Shell", "tcp") == "soupbintcp"
    assert classify(b"\x00\x02H\x00", "tcp") == "unknown"  # a heartbeat has no payload
    assert classify(b"\x00\x01Q", "tcp") == "unknown"  # no such packet type
    assert classify(b"\x00\x05Sabc", "tcp") == "unknown"  # cut short
    assert classify(b"", "tcp") == "unknown"
    assert classify(b"\x00\x01H", "udp") == "unknown"


def test_checksum_matches_dpkt() -> None:
    ip = dpkt.ip.IP(src=socket.inet_aton("10.1.2.3"), dst=socket.inet_aton("233.1.1.1"), p=17, ttl=9, id=77)
    ip.data = b"payload!"
    raw = bytes(ip)  # dpkt fills in the checksum
    assert ipv4_checksum(raw[:10] + b"\x00\x00" + raw[10 + 2 : 20]) == int.from_bytes(raw[10:12], "big")


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    pkts = [Packet(moldudp64.build("TEST01", 1 + i, [bytes([65 + i]) * (i + 1)]), 0) for i in range(5)]
    pkts[2] = Packet(pkts[2].payload, 1_692_711_000_123_456_789)  # a real-looking ns timestamp
    path = tmp_path / "out.pcap"
    src, dst = ("10.9.8.7", 1234), ("233.54.12.111", 26477)
    assert write_pcap(path, pkts, src=src, dst=dst, start_ns=1_000_000_000_000_000_001, step_ns=500) == 5
    frames = list(read_pcap(path))
    assert [f.payload for f in frames] == [p.payload for p in pkts]
    ts = [f.ts_ns for f in frames]
    assert ts[2] == 1_692_711_000_123_456_789
    assert ts[:2] == [1_000_000_000_000_000_001, 1_000_000_000_000_000_501]  # steady synthetic clock
    assert ts[3:] == [ts[2] + 500, ts[2] + 1000]
    assert all((f.src, f.sport, f.dst, f.dport, f.proto) == (*src, *dst, "udp") for f in frames)
    # dpkt agrees: nanosecond magic, valid IPv4 header checksums, multicast MAC, UDP lengths
    assert path.read_bytes()[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    for (ns, buf), f in zip(_dpkt_records(path), frames, strict=True):
        eth = dpkt.ethernet.Ethernet(buf)
        assert ns == f.ts_ns and eth.dst == bytes.fromhex("01005e360c6f")
        ip = eth.data
        hdr = bytes(ip)[:20]
        assert ipv4_checksum(hdr[:10] + b"\x00\x00" + hdr[12:]) == ip.sum
        assert ip.len == len(buf) - 14 and ip.data.ulen == 8 + len(f.payload)


def test_bare_bytes_and_unicast(tmp_path: Path) -> None:
    path = tmp_path / "u.pcap"
    write_pcap(path, [b"\x01\x02"], dst=("192.168.1.5", 9))
    (f,) = read_pcap(path)
    assert (f.payload, f.dst, f.dport) == (b"\x01\x02", "192.168.1.5", 9)


def _classic(frames: list[bytes], *, order: str = "<", nano: bool = False, linktype: int = 1) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, fr in enumerate(frames):
        out += struct.pack(order + "IIII", 100 + i, 7, len(fr), len(fr)) + fr
    return out


def _ip_udp(payload: bytes, *, frag: int = 0, options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + 8 + len(payload), 0, frag, 64, 17, 0,
                     socket.inet_aton("1.2.3.4"), socket.inet_aton("5.6.7.8")) + options
    return ip + struct.pack("!HHHH", 11, 22, 8 + len(payload), 0) + payload


def test_link_layers_vlans_fragments_and_padding(tmp_path: Path) -> None:
    mold = moldudp64.build("S", 1, [b"hi"])
    eth = b"\x01" * 6 + b"\x02" * 6
    frames = [
        eth + b"\x08\x00" + _ip_udp(mold) + b"\x00" * 20,  # Ethernet padding past the IP length
        eth + b"\x81\x00\x00\x05\x08\x00" + _ip_udp(mold),  # 802.1Q
        eth + b"\x88\xa8\x00\x05\x81\x00\x00\x07\x08\x00" + _ip_udp(mold),  # QinQ
        eth + b"\x08\x00" + _ip_udp(mold, options=b"\x01\x01\x01\x00"),  # IP options
        eth + b"\x08\x00" + _ip_udp(mold, frag=0x2000),  # first fragment (more fragments)
        eth + b"\x08\x00" + _ip_udp(mold, frag=0x0010),  # a later fragment
        eth + b"\x08\x06" + b"\x00" * 28,  # ARP
        eth + b"\x08\x00" + _ip_udp(mold)[:30],  # cut by the snap length
    ]
    tagged = bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x01" * 6, type=0x0800, data=b"",
                                          vlan_tags=[dpkt.ethernet.VLANtag8021Q(id=5, type=0x8100),
                                                     dpkt.ethernet.VLANtag8021Q(id=7, type=0x0800)]))
    frames.append(tagged + _ip_udp(mold))  # QinQ as dpkt builds it
    for order, nano in (("<", False), (">", True)):
        path = tmp_path / f"l2{order == '<'}.pcap"
        path.write_bytes(_classic(frames, order=order, nano=nano))
        r = PcapReader(path)
        got = list(r)
        assert [f.payload for f in got] == [mold] * 5
        assert got[0].ts_ns == 100 * 10**9 + (7 if nano else 7000)
        assert (r.frames, r.udp, r.fragments, r.non_ipv4, r.truncated) == (9, 5, 2, 1, 1)
        assert all((f.src, f.dst, f.sport, f.dport) == ("1.2.3.4", "5.6.7.8", 11, 22) for f in got)
    raw = tmp_path / "raw.pcap"
    raw.write_bytes(_classic([_ip_udp(mold)], linktype=101))
    assert [f.payload for f in read_pcap(raw)] == [mold]


def test_truncated_file_and_gzip(tmp_path: Path) -> None:
    mold = moldudp64.build("S", 1, [b"hi"])
    data = _classic([b"\x01" * 12 + b"\x08\x00" + _ip_udp(mold)] * 3)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-5])
    r = PcapReader(cut)
    assert len(list(r)) == 2 and r.truncated == 1
    gz = tmp_path / "cap.pcap.gz"
    gz.write_bytes(gzip.compress(data))
    assert [f.payload for f in read_pcap(gz)] == [mold] * 3


def test_pcapng_with_two_interfaces(tmp_path: Path) -> None:
    ng = dpkt.pcapng
    mold = moldudp64.build("S", 9, [b"ng"])
    frame = b"\x01" * 12 + b"\x08\x00" + _ip_udp(mold)
    ns_opts = [ng.PcapngOptionLE(code=ng.PCAPNG_OPT_IF_TSRESOL, data=b"\x09"), ng.PcapngOptionLE(code=0)]
    idbs = [ng.InterfaceDescriptionBlockLE(linktype=1, snaplen=65535, opts=ns_opts),
            ng.InterfaceDescriptionBlockLE(linktype=101, snaplen=65535)]  # raw IP, microseconds
    path = tmp_path / "two.pcapng"
    with open(path, "wb") as f:
        w = ng.Writer(f, idb=idbs)
        t = 1_692_711_000_123_456_789
        w.writepkt(ng.EnhancedPacketBlockLE(iface_id=0, ts_high=t >> 32, ts_low=t & 0xFFFFFFFF,
                                            caplen=len(frame), pkt_len=len(frame), pkt_data=frame))
        us = 1_692_711_000_654_321
        raw = _ip_udp(mold)
        w.writepkt(ng.EnhancedPacketBlockLE(iface_id=1, ts_high=us >> 32, ts_low=us & 0xFFFFFFFF,
                                            caplen=len(raw), pkt_len=len(raw), pkt_data=raw))
    got = list(read_pcap(path))
    assert [f.payload for f in got] == [mold, mold]
    assert [f.ts_ns for f in got] == [t, us * 1000]


def test_not_a_capture(tmp_path: Path) -> None:
    p = tmp_path / "x.pcap"
    p.write_bytes(b"hello world")
    with pytest.raises(ValueError):
        list(read_pcap(p))


def test_udp_frame_is_plain_ethernet_ipv4_udp() -> None:
    fr = udp_frame(b"abc", ("1.1.1.1", 5), ("2.2.2.2", 6))
    eth = dpkt.ethernet.Ethernet(fr)
    assert eth.type == 0x0800 and eth.data.p == 17 and bytes(eth.data.data.data) == b"abc"
    assert not eth.data.mf and eth.data.offset == 0
    assert ipv4_checksum(fr[14:34]) == 0  # a valid header, checksum included, sums to zero


def test_pcapng_big_endian_then_little_endian_section_and_simple_block(tmp_path: Path) -> None:
    ng = dpkt.pcapng
    mold = moldudp64.build("S", 3, [b"be"])
    frame = b"\x01" * 12 + b"\x08\x00" + _ip_udp(mold)
    t = 1_692_711_000_000_000_123  # in the default microsecond resolution: t // 1000 ticks
    us = t // 1000
    be = (bytes(ng.SectionHeaderBlock()) + bytes(ng.InterfaceDescriptionBlock(linktype=1, snaplen=9000))
          + bytes(ng.EnhancedPacketBlock(ts_high=us >> 32, ts_low=us & 0xFFFFFFFF, caplen=len(frame),
                                         pkt_len=len(frame), pkt_data=frame)))
    pad = frame + b"\x00" * (-len(frame) % 4)
    spb = struct.pack("<III", 3, 16 + len(pad), len(frame)) + pad + struct.pack("<I", 16 + len(pad))
    le = bytes(ng.SectionHeaderBlockLE()) + bytes(ng.InterfaceDescriptionBlockLE(linktype=1)) + spb
    path = tmp_path / "mixed.pcapng"
    path.write_bytes(be + le)
    r = PcapReader(path)
    got = list(r)
    assert [(f.payload, f.ts_ns) for f in got] == [(mold, us * 1000), (mold, 0)]  # a simple block has no time
    assert r.frames == 2 and r.truncated == 0
