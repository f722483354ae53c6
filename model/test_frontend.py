"""The reference Ethernet front end: real captures, every drop reason, padding and truncation rules.

`make_frame`, `crafted_frames`, `capture_frames` and `random_frames` are also the stimulus of the
gateware tests (hdl/test_ethernet.py).
"""

from __future__ import annotations

import glob
import random
import socket
import struct
from pathlib import Path

import dpkt
import pytest

from tickgate.model.frontend import CHECK_ORDER, ETH_COUNTERS, ReferenceFrontEnd
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.pcap import ipv4_checksum, read_pcap

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CAPTURES = sorted(glob.glob(str(DATA / "pcap" / "*Itch*" / "*.pcap")))
DST = ("233.54.12.111", 26477)
MIN_FRAME = 60  # bytes without FCS: shorter frames are padded by the sender


def make_frame(
    payload: bytes, *, tags: tuple[int, ...] = (), dst: tuple[str, int] = DST, options: bytes = b"",
    proto: int = 17, flags_fragment: int = 0x4000, version: int = 4, ihl: int | None = None,
    total_length: int | None = None, udp_length: int | None = None, checksum: int | None = None,
    ethertype: int = 0x0800, pad: bool = True,
) -> bytes:
    """An Ethernet (+ VLAN tags) / IPv4 / UDP frame; each header field can be set wrong on purpose."""
    ihl = 5 + len(options) // 4 if ihl is None else ihl
    udp_len = 8 + len(payload) if udp_length is None else udp_length
    total = 20 + len(options) + 8 + len(payload) if total_length is None else total_length
    ip = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0, total, 0x1234, flags_fragment, 64, proto, 0,
                     socket.inet_aton("10.0.0.1"), socket.inet_aton(dst[0])) + options
    ip = ip[:10] + (ipv4_checksum(ip) if checksum is None else checksum).to_bytes(2, "big") + ip[12:]
    udp = struct.pack("!HHHH", 40000, dst[1], udp_len, 0)
    eth = bytes.fromhex("01005e360c6f" "020000000001")
    for i, tpid in enumerate(tags):
        eth += struct.pack("!HH", tpid, 100 + i)
    frame = eth + ethertype.to_bytes(2, "big") + ip + udp + payload
    return frame.ljust(MIN_FRAME, b"\0") if pad else frame


def fix_ip_checksum(frame: bytes) -> bytes:
    """The frame with its IPv4 header checksum recomputed (the anonymised captures have it zeroed)."""
    ip = 14
    while frame[ip - 2 : ip] in (b"\x81\x00", b"\x88\xa8"):
        ip += 4
    end = ip + (frame[ip] & 0x0F) * 4
    header = frame[ip : ip + 10] + b"\0\0" + frame[ip + 12 : end]
    return frame[: ip + 10] + ipv4_checksum(header).to_bytes(2, "big") + frame[ip + 12 :]


def capture_frames(path: str) -> list[bytes]:
    """The raw Ethernet frames of a classic pcap file."""
    with open(path, "rb") as f:
        return [bytes(buf) for _ts, buf in dpkt.pcap.Reader(f)]


def _packet(n: int = 2) -> bytes:
    return mold.build("SESSION001", 1, [b"S" + bytes(11)] * n)


def crafted_frames() -> list[tuple[str, bytes, bytes | None]]:
    """(expected counter, frame, expected output) for every rule, checked with filters DST on."""
    p = _packet()
    short = mold.build("SESSION001", 1, [])  # a 20-byte heartbeat: the frame is padded to 60 bytes
    good = make_frame(p)
    cases = [
        ("eth_passed", good, p),
        ("eth_passed", make_frame(short), short),
        ("eth_passed", make_frame(b"\x42"), b"\x42"),  # one byte of payload, 17 of padding
        ("eth_passed", make_frame(p, tags=(0x8100,)), p),
        ("eth_passed", make_frame(p, tags=(0x88A8, 0x8100)), p),
        ("eth_passed", make_frame(p, tags=(0x8100, 0x8100), options=bytes(4)), p),
        ("eth_passed", make_frame(p, options=bytes(40)), p),  # IHL 15
        ("eth_passed", make_frame(p, options=bytes(4)), p),
        ("eth_passed", make_frame(p, flags_fragment=0), p),  # DF clear: not a fragment either
        ("eth_passed", make_frame(p, pad=False) + bytes(5), p),  # trailing bytes past the IPv4 length
        ("eth_not_ipv4", make_frame(p, ethertype=0x0806), None),  # ARP
        ("eth_not_ipv4", make_frame(p, ethertype=0x86DD), None),  # IPv6
        ("eth_not_ipv4", make_frame(p, tags=(0x8100, 0x8100, 0x8100)), None),  # three tags
        ("eth_bad_ip_header", make_frame(p, version=6), None),
        ("eth_bad_ip_header", make_frame(p, ihl=4), None),
        ("eth_bad_ip_header", make_frame(p, total_length=27), None),
        ("eth_bad_ip_checksum", make_frame(p, checksum=0), None),
        ("eth_bad_ip_checksum", make_frame(p, options=bytes(8), checksum=0x1234), None),
        ("eth_ip_fragment", make_frame(p, flags_fragment=0x2000), None),  # more fragments
        ("eth_ip_fragment", make_frame(p, flags_fragment=0x0010), None),  # a later fragment
        ("eth_not_udp", make_frame(p, proto=6), None),  # TCP
        ("eth_wrong_address", make_frame(p, dst=("233.54.12.112", DST[1])), None),
        ("eth_wrong_port", make_frame(p, dst=(DST[0], DST[1] + 1)), None),
        ("eth_bad_udp_length", make_frame(p, udp_length=len(p) + 7), None),
        ("eth_bad_udp_length", make_frame(p, udp_length=len(p) + 9), None),
        ("eth_bad_udp_length", make_frame(b"", udp_length=8), None),  # an empty datagram
        ("eth_truncated", good[:60], p[:18]),  # cut in the payload: its head was passed on
        ("eth_truncated", make_frame(p, tags=(0x8100,))[:49], p[:3]),
        ("eth_truncated", good[:43], p[:1]),
        ("eth_truncated", make_frame(p, pad=False)[:42], None),  # headers whole, no payload byte
        ("eth_truncated", good[:40], None),  # in the UDP header
        ("eth_truncated", good[:30], None),  # in the IPv4 header
        ("eth_truncated", good[:13], None),  # before the Ethernet type
        ("eth_truncated", make_frame(p, tags=(0x8100,))[:16], None),  # before the type behind the tag
        ("eth_not_ipv4", make_frame(p, ethertype=0x0806)[:20], None),  # short, but its type is known
        ("eth_truncated", make_frame(p, total_length=20 + 38 + len(p), udp_length=38 + len(p)), p),  # IPv4 > frame
    ]
    return cases


def random_frames(rng: random.Random, count: int) -> list[bytes]:
    """Frames good and bad: random geometry, then maybe a cut, a corrupted byte or a wrong field."""
    frames = []
    for _ in range(count):
        payload = rng.randbytes(rng.choice([1, 2, 5, 6, 7, 8, 9, 13, 20, 31, 64, 100]))
        frame = make_frame(payload, tags=rng.choice([(), (0x8100,), (0x88A8, 0x8100), (0x8100, 0x8100)]),
                           options=bytes(4 * rng.randrange(0, 11)), pad=rng.random() < 0.7,
                           dst=(DST[0], DST[1] + (rng.random() < 0.1)))
        roll = rng.random()
        if roll < 0.3:
            frame = frame[: rng.randrange(0, len(frame) + 1)]
        elif roll < 0.45:
            i = rng.randrange(12, min(len(frame), 100))
            frame = frame[:i] + bytes([rng.choice([frame[i] ^ 1, 0x45, 0x08, 0, 0x81, 0x11])]) + frame[i + 1 :]
        frames.append(frame or b"\0")
    return frames


@pytest.fixture(scope="module")
def captures() -> list[str]:
    if not CAPTURES:
        pytest.fail(f"no captures under {DATA / 'pcap'}: the tests read ../shared/data beside the repository")
    return CAPTURES


def test_real_captures_yield_their_udp_payloads(captures: list[str]) -> None:
    passed = 0
    for path in captures:
        expected = [f.payload for f in read_pcap(path)]
        ref = ReferenceFrontEnd()
        out = [ref.frame(fix_ip_checksum(f)) for f in capture_frames(path)]
        assert out == expected, path
        passed += len(out)
    assert passed > 100


def test_anonymised_captures_have_zero_checksums_and_are_dropped(captures: list[str]) -> None:
    anonymised = [p for p in captures if ".20230822" in p]
    assert anonymised
    for path in anonymised:
        ref = ReferenceFrontEnd()
        frames = capture_frames(path)
        assert [ref.frame(f) for f in frames] == [None] * len(frames)
        assert ref.counters["eth_bad_ip_checksum"] == len(frames) == ref.counters["eth_frames"]


def test_filters_on_real_captures(captures: list[str]) -> None:
    nasdaq = [p for p in captures if "/Nasdaq.Equities.TotalView.Itch.v5.0/" in p]
    bx = [p for p in captures if "/Bx.Equities.TotalView.Itch.v5.0/" in p]
    ref = ReferenceFrontEnd(dst_ip="233.54.12.111", dst_port=26477)
    for path in nasdaq:
        for f in capture_frames(path):
            assert ref.frame(f) is not None
    for path in bx:
        for f in capture_frames(path):
            assert ref.frame(f) is None
    assert ref.counters["eth_wrong_address"] == 3 and ref.counters["eth_passed"] == 9


@pytest.mark.parametrize(("counter", "frame", "expected"), crafted_frames())
def test_each_rule(counter: str, frame: bytes, expected: bytes | None) -> None:
    ref = ReferenceFrontEnd(dst_ip=DST[0], dst_port=DST[1])
    assert ref.frame(frame) == expected
    assert ref.counters == {**dict.fromkeys(ETH_COUNTERS, 0), "eth_frames": 1, counter: 1}


def test_filters_off_accept_any_destination() -> None:
    ref = ReferenceFrontEnd()
    p = _packet()
    assert ref.frame(make_frame(p, dst=("10.9.8.7", 1))) == p
    assert ReferenceFrontEnd(dst_ip=0xE9360C6F).dst_ip == ReferenceFrontEnd(dst_ip="233.54.12.111").dst_ip


def test_first_failing_check_wins() -> None:
    ref = ReferenceFrontEnd(dst_ip="1.2.3.4", dst_port=1)
    p = _packet()
    assert ref.classify(make_frame(p, checksum=0, proto=6))[0] == "eth_bad_ip_checksum"
    assert ref.classify(make_frame(p, flags_fragment=0x2000, proto=6))[0] == "eth_ip_fragment"
    assert ref.classify(make_frame(p, proto=6))[0] == "eth_not_udp"
    assert ref.classify(make_frame(p, udp_length=3))[0] == "eth_wrong_address"
    assert ref.classify(make_frame(p, dst=("1.2.3.4", 2), udp_length=3))[0] == "eth_wrong_port"
    assert ref.classify(make_frame(p, version=6, ethertype=0x0806))[0] == "eth_not_ipv4"
    assert list(CHECK_ORDER) == [c for c in ETH_COUNTERS if c not in ("eth_frames", "eth_passed")]


def test_every_frame_is_counted_once() -> None:
    ref = ReferenceFrontEnd(dst_port=DST[1])
    frames = random_frames(random.Random(7), 2000)
    for f in frames:
        ref.frame(f)
    c = ref.counters
    assert c["eth_frames"] == len(frames) == c["eth_passed"] + sum(c[r] for r in CHECK_ORDER)
    assert all(c[r] > 0 for r in ("eth_passed", "eth_truncated", "eth_bad_ip_checksum", "eth_wrong_port"))


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        ReferenceFrontEnd(dst_port=70000)
    with pytest.raises(ValueError):
        ReferenceFrontEnd(dst_ip="300.1.2.3")
