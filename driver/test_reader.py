"""The native file reader (`tickgate._driver.FileFeed`) against the Python feeds: the same packets, byte for
byte, and the same counters, on every file in ../shared/data, on generated files and on damaged ones."""

from __future__ import annotations

import gzip
import itertools
import struct
from pathlib import Path

import numpy as np
import pytest

from tickgate.host.backend import Backend, open_backend
from tickgate.host.feeds import Packet, open_feed, pack_messages
from tickgate.host.feeds.generator import Generator
from tickgate.host.replay import EventBatches, open_file_feed, open_replay
from tickgate.protocol.binaryfile import TruncatedFileError, write_binaryfile
from tickgate.protocol.events import EVENT_DTYPE, comparable
from tickgate.protocol.moldudp64 import pack_dma
from tickgate.protocol.pcap import UnsupportedLinkType, udp_frame, write_pcap

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SHARED_FILES = sorted(p for p in DATA.rglob("*") if p.suffix in (".itch50", ".pcap", ".pcapng", ".gz"))
needs_data = pytest.mark.skipif(not SHARED_FILES, reason="../shared/data is not present")


def _native(path: Path, **kw: object) -> tuple[bytes, dict[str, int]]:
    feed = open_file_feed(path, **kw)
    batches = []
    while (item := feed.next_batch()) is not None:
        batches.append(item[0])
    return b"".join(batches), feed.stats()


def _python(path: Path, **kw: object) -> tuple[bytes, dict[str, int]]:
    feed = open_feed(path, **kw)
    packets = list(feed)
    stats = feed.stats()
    return pack_dma(packets), stats


def _same(path: Path, **kw: object) -> dict[str, int]:
    native, native_stats = _native(path, **kw)
    python, python_stats = _python(path, **kw)
    assert native == python, f"{path}: the native packets differ from the Python packer's"
    assert native_stats == python_stats
    return native_stats


@needs_data
@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: str(p.relative_to(DATA)))
def test_every_shared_file_packs_as_python(path: Path) -> None:
    _same(path)


@needs_data
def test_shared_truncated_file_counts_its_cut() -> None:
    stats = _same(DATA / "itch" / "nasdaq_2016_truncated_500B.itch50")
    assert stats["file_messages"] == 16 and stats["file_truncated_bytes"] > 0


@pytest.fixture(scope="module")
def messages() -> list[bytes]:
    return list(Generator(30_000, 40, 5))


@pytest.mark.parametrize("suffix", [".itch50", ".itch50.gz"])
@pytest.mark.parametrize("max_payload", [72, 100, 1400, 9000])
def test_generated_binaryfile_packs_as_python(tmp_path: Path, messages: list[bytes], suffix: str,
                                              max_payload: int) -> None:
    path = tmp_path / f"feed{suffix}"
    write_binaryfile(path, messages)
    stats = _same(path, max_payload=max_payload)
    assert stats["file_messages"] == len(messages) and stats["file_end_of_session"] == 1


def test_a_message_too_long_for_max_payload_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.itch50"
    write_binaryfile(path, [b"A" * 200])
    with pytest.raises(ValueError, match="exceeds"):
        _native(path, max_payload=100)


def test_session_is_the_packers(tmp_path: Path, messages: list[bytes]) -> None:
    path = tmp_path / "feed.itch50"
    write_binaryfile(path, messages[:1000], end_of_session=False)
    stats = _same(path, session="ABC")
    assert stats["file_end_of_session"] == 0


@pytest.mark.parametrize("cut", [1, 2, 3, 777, 5001])
def test_truncated_plain_file_counts_as_python(tmp_path: Path, messages: list[bytes], cut: int) -> None:
    whole = tmp_path / "whole.itch50"
    write_binaryfile(whole, messages[:2000], end_of_session=False)
    path = tmp_path / "cut.itch50"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    _same(path)


@pytest.mark.parametrize("cut", [10, 3000, 20_000])
def test_truncated_gzip_is_an_error_as_in_python_unless_allowed(tmp_path: Path, messages: list[bytes],
                                                                 cut: int) -> None:
    whole = tmp_path / "whole.itch50.gz"
    write_binaryfile(whole, messages)
    path = tmp_path / "cut.itch50.gz"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    with pytest.raises(TruncatedFileError) as python:
        _python(path)
    with pytest.raises(TruncatedFileError) as native:
        _native(path)
    assert str(native.value) == str(python.value)
    assert _same(path, allow_truncated=True)["file_gzip_incomplete"] == 1


def test_gzip_members_and_padding_read_as_python(tmp_path: Path, messages: list[bytes]) -> None:
    plain = tmp_path / "plain.itch50"
    write_binaryfile(plain, messages[:3000])
    data = plain.read_bytes()
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(data[:10_001]) + gzip.compress(data[10_001:]) + bytes(7))
    _same(path)


def test_corrupt_gzip_is_an_error(tmp_path: Path, messages: list[bytes]) -> None:
    path = tmp_path / "bad.itch50.gz"
    write_binaryfile(path, messages[:3000])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="corrupt"):
        _native(path)


def _pcap(tmp_path: Path, messages: list[bytes], name: str = "feed.pcap") -> Path:
    path = tmp_path / name
    write_pcap(path, (Packet(p) for p in pack_messages(iter(messages), end_of_session=True)))
    return path


def test_generated_pcap_packs_as_python(tmp_path: Path, messages: list[bytes]) -> None:
    stats = _same(_pcap(tmp_path, messages))
    assert stats["pcap_moldudp64"] > 0
    _same(_pcap(tmp_path, messages), port=26477)
    assert _same(_pcap(tmp_path, messages), port=1)["pcap_other_port"] == stats["pcap_moldudp64"]


def test_gzip_pcap_packs_as_python(tmp_path: Path, messages: list[bytes]) -> None:
    raw = _pcap(tmp_path, messages[:3000]).read_bytes()
    path = tmp_path / "feed.pcap.gz"
    path.write_bytes(gzip.compress(raw))
    _same(path)


@pytest.mark.parametrize("cut", [1, 9, 500])
def test_truncated_pcap_counts_as_python(tmp_path: Path, messages: list[bytes], cut: int) -> None:
    data = _pcap(tmp_path, messages[:3000]).read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[: len(data) - cut])
    assert _same(path)["pcap_truncated"] == 1


def _frames(messages: list[bytes]) -> list[bytes]:
    """Ethernet frames: MoldUDP64 plain and under 802.1Q and QinQ tags, and damaged or foreign ones."""
    packets = list(pack_messages(iter(messages), end_of_session=True))
    src, dst = ("10.0.0.1", 40000), ("233.54.12.111", 26477)
    out = []
    for i, p in enumerate(packets):
        f = udp_frame(p, src, dst, i)
        if i % 3 == 1:
            f = f[:12] + b"\x81\x00\x00\x05" + f[12:]  # 802.1Q
        elif i % 3 == 2:
            f = f[:12] + b"\x88\xa8\x00\x07\x81\x00\x00\x05" + f[12:]  # QinQ
        out.append(f)
    f = udp_frame(packets[0], src, dst)
    out.append(f[:12] + b"\x86\xdd" + f[14:])  # not IPv4
    out.append(f[:20] + b"\x20\x00" + f[22:])  # more fragments
    out.append(f[:16] + b"\xff\xff" + f[18:])  # IP total length past the frame
    out.append(f[:23] + b"\x01" + f[24:])  # ICMP
    out.append(f[:30])  # cut inside the IP header
    out.append(f[:14])  # no IP header at all
    out.append(f[:-5])  # cut inside the payload
    out.append(udp_frame(b"not moldudp64 at all", src, dst))
    return out


def test_pcap_vlan_and_damaged_frames_count_as_python(tmp_path: Path, messages: list[bytes]) -> None:
    frames = _frames(messages[:2000])
    path = tmp_path / "mixed.pcap"
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1_700_000_000 + i, i * 7, len(fr), len(fr)) + fr)
    stats = _same(path)
    assert stats["pcap_skipped"] >= 6 and stats["pcap_fragments"] == 1 and stats["pcap_unknown_payload"] >= 1


def _pcapng(frames: list[bytes], order: str) -> bytes:
    """A pcapng section in byte order `order`: one Ethernet interface with nanosecond resolution (if_tsresol
    9), its frames as enhanced packet blocks, and one simple packet block."""

    def block(btype: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        n = 12 + len(body)
        return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)

    out = block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack(order + "HHI", 1, 0, 65535) + struct.pack(order + "HH", 9, 1) + b"\x09\0\0\0"
                 + struct.pack(order + "HH", 0, 0))
    for i, fr in enumerate(frames):
        ts = 1_700_000_000_000_000_000 + i * 1_003
        out += block(6, struct.pack(order + "IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(fr), len(fr)) + fr)
    out += block(3, struct.pack(order + "I", len(frames[0])) + frames[0])
    return out


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_packs_as_python(tmp_path: Path, messages: list[bytes], order: str) -> None:
    path = tmp_path / "feed.pcapng"
    path.write_bytes(_pcapng(_frames(messages[:2000]), order))
    stats = _same(path)
    assert stats["pcap_moldudp64"] > 0


def test_unsupported_link_type_is_the_python_error(tmp_path: Path) -> None:
    path = tmp_path / "usb.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 189) + struct.pack("<IIII", 1, 0, 4, 4)
                     + b"\0" * 4)
    with pytest.raises(UnsupportedLinkType) as python:
        _python(path)
    with pytest.raises(UnsupportedLinkType) as native:
        _native(path)
    assert str(native.value) == str(python.value) and "link type 189" in str(native.value)


def test_oversized_packet_is_counted_as_the_backend_counts_it(tmp_path: Path) -> None:
    block = (40_000).to_bytes(2, "big") + b"A" * 40_000
    payload = b"TICKGATE01" + (1).to_bytes(8, "big") + (2).to_bytes(2, "big") + block + block  # 80,024 bytes
    # IPv4 total length 0 (a segmentation-offloaded capture) and UDP length 0: the payload runs to the frame's end
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, 17, 0, bytes(4), bytes(4))
    frame = bytes(12) + b"\x08\x00" + ip + struct.pack("!HHHH", 1, 2, 0, 0) + payload
    path = tmp_path / "tso.pcap"
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        f.write(struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame)
    batches = open_replay(path, "software")
    assert list(batches) == [] and batches.counters["packets_oversize"] == 1
    backend = _fed("software", path)
    assert backend.counters() == batches.counters


@pytest.fixture(scope="module")
def feed_file(tmp_path_factory: pytest.TempPathFactory, messages: list[bytes]) -> Path:
    path = tmp_path_factory.mktemp("replay") / "feed.itch50"
    write_binaryfile(path, messages)
    return path


def _fed(name: str, path: Path) -> Backend:
    """A backend fed the Python feed's packets one by one (the reference path)."""
    backend = open_backend(name)
    for payload, rx in open_feed(path):
        backend.feed(payload, rx)
    return backend


def test_software_replays_as_the_software_backend_fed_by_python(feed_file: Path) -> None:
    batches = open_replay(feed_file, "software", chunk_events=5000)
    native = list(batches)
    assert all(len(b) <= 5000 for b in native)
    backend = _fed("software", feed_file)
    assert np.array_equal(comparable(np.concatenate(native)), comparable(backend.take_events()))
    assert batches.counters == backend.counters()
    assert batches.feed["file_messages"] == batches.counters["messages"]


def test_model_fed_by_the_native_reader_replays_as_before(tmp_path: Path, messages: list[bytes]) -> None:
    path = tmp_path / "small.itch50"
    write_binaryfile(path, messages[:5000])
    batches = EventBatches(open_file_feed(path), open_backend("model"), chunk_events=700)
    got = np.concatenate(list(batches))
    model = _fed("model", path)
    assert np.array_equal(comparable(got), comparable(model.take_events()))
    assert batches.counters == model.counters()
    assert np.array_equal(comparable(np.concatenate(list(open_replay(path, "software")))), comparable(got))


def test_reused_buffer_batches_hold_the_same_events(feed_file: Path) -> None:
    fresh = np.concatenate(list(open_replay(feed_file, chunk_events=1000)))
    buffers = itertools.repeat(np.empty(1000, dtype=EVENT_DTYPE))
    reused = EventBatches(open_file_feed(feed_file), open_backend("software"), buffers=buffers)
    parts = [b.copy() for b in reused]
    assert np.array_equal(comparable(np.concatenate(parts)), comparable(fresh))


@needs_data
def test_directory_holds_the_stock_directory() -> None:
    batches = open_replay(DATA / "itch" / "nasdaq_day_start_1000msgs.itch50")
    for _ in batches:
        pass
    names = batches.directory()
    assert len(names) == 993 and all(1 <= len(s) <= 8 and s == s.strip() for s in names.values())


def test_batches_are_views_of_the_event_dtype(feed_file: Path) -> None:
    first = next(iter(open_replay(feed_file, chunk_events=100)))
    assert first.dtype.names[:3] == ("kind", "flags", "locate") and len(first) == 100
    assert list(itertools.islice(open_replay(feed_file, chunk_events=10), 3))[2].base is not None
