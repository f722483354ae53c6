"""File feeds: MoldUDP64 packing, BinaryFILE and pcap feeds, and choosing between them."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest

from tickgate.host.feeds import BinaryFileFeed, Packet, PcapFeed, open_feed, pack_messages
from tickgate.protocol import itch, moldudp64
from tickgate.protocol.binaryfile import BinaryFileReader, write_binaryfile
from tickgate.protocol.pcap import write_pcap

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
DAY_START = DATA / "itch" / "nasdaq_day_start_1000msgs.itch50"
TRUNCATED = DATA / "itch" / "nasdaq_2016_truncated_500B.itch50"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not present")


def _unpack(packets: list[bytes]) -> list[tuple[int, bytes]]:
    """(sequence number, message) of every message, checking each header's count against its blocks."""
    out = []
    for p in packets:
        hdr = moldudp64.parse_header(p)
        msgs = list(moldudp64.blocks(p))
        if not (hdr.is_end_of_session or hdr.is_heartbeat):
            assert len(msgs) == hdr.message_count > 0
        out += [(hdr.sequence_number + i, m) for i, m in enumerate(msgs)]
    return out


def _msgs(n: int) -> list[bytes]:
    return [bytes([65 + i % 26]) * (1 + (i * 13) % 50) for i in range(n)]


@pytest.mark.parametrize("max_payload", [72, 100, 1400, 1472])
def test_pack_respects_max_payload_and_numbers_consecutively(max_payload: int) -> None:
    msgs = _msgs(2000)
    pkts = list(pack_messages(msgs, session="ABC", first_sequence=42, max_payload=max_payload))
    assert all(len(p) <= max_payload for p in pkts)
    assert all(moldudp64.parse_header(p).session == b"ABC       " for p in pkts)
    assert _unpack(pkts) == list(enumerate(msgs, start=42))
    # greedy: the first message of the next packet would not have fitted in the previous one
    for a, b in itertools.pairwise(pkts):
        assert len(a) + 2 + len(next(moldudp64.blocks(b))) > max_payload


def test_pack_smallest_payload_holds_one_byte_messages() -> None:
    pkts = list(pack_messages([b"a", b"b", b"c"], max_payload=23))
    assert [len(p) for p in pkts] == [23, 23, 23]
    assert _unpack(pkts) == [(1, b"a"), (2, b"b"), (3, b"c")]


def test_pack_end_of_session_and_edge_cases() -> None:
    pkts = list(pack_messages([b"a", b"bb", b"ccc"], first_sequence=7, end_of_session=True))
    assert len(pkts) == 2
    assert moldudp64.parse_header(pkts[0]) == (b"TICKGATE01", 7, 3)
    assert pkts[1] == moldudp64.end_of_session(b"TICKGATE01", 10)
    assert list(pack_messages([], end_of_session=True)) == [moldudp64.end_of_session(b"TICKGATE01", 1)]
    assert list(pack_messages([])) == []
    assert _unpack(list(pack_messages([b"z" * 300, b"y"], max_payload=400))) == [(1, b"z" * 300), (2, b"y")]
    with pytest.raises(ValueError):
        list(pack_messages([b"x" * 100], max_payload=100))  # 20 + 2 + 100 > 100
    with pytest.raises(ValueError):
        list(pack_messages([b"x"], max_payload=10))
    with pytest.raises(ValueError):
        list(pack_messages([b"x"], session="ELEVENCHARS"))


@needs_data
def test_binaryfile_feed_sequence_is_file_index() -> None:
    feed = BinaryFileFeed(DAY_START, session="NASDAQ0001")
    pkts = list(feed)
    assert all(isinstance(p, Packet) and p.rx_ns == 0 and len(p.payload) <= 1400 for p in pkts)
    file_msgs = list(BinaryFileReader(DAY_START))
    assert _unpack([p.payload for p in pkts]) == list(enumerate(file_msgs, start=1))
    assert not moldudp64.parse_header(pkts[-1].payload).is_end_of_session  # the file has no marker
    s = feed.stats()
    assert s["file_messages"] == 1000 and s["file_truncated_bytes"] == 0
    assert s["file_progress_permille"] == 1000 and s["feed_packets"] == len(pkts)
    assert feed.reader.messages == 1000
    for _, m in _unpack([p.payload for p in pkts]):
        itch.decode(m)


@needs_data
def test_binaryfile_feed_on_truncated_file() -> None:
    feed = BinaryFileFeed(TRUNCATED)
    seqs = [s for s, _ in _unpack([p.payload for p in feed])]
    assert seqs == list(range(1, 17))
    assert feed.stats()["file_truncated_bytes"] > 0 and feed.reader.truncated_bytes > 0


@pytest.mark.parametrize("name", ["day.itch50", "day.itch50.gz"])
@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_binaryfile_feed_equals_pack_messages(tmp_path: Path, name: str, chunk: int) -> None:
    msgs = _msgs(3000)
    path = tmp_path / name
    write_binaryfile(path, msgs, end_of_session=True)
    feed = BinaryFileFeed(path, session=b"S1", max_payload=300, chunk_bytes=chunk)
    got = [p.payload for p in feed]
    assert got == list(pack_messages(msgs, session=b"S1", max_payload=300, end_of_session=True))
    assert moldudp64.parse_header(got[-1]) == (b"S1        ", 3001, moldudp64.END_OF_SESSION)
    assert feed.reader.end_of_session and feed.stats()["file_end_of_session"] == 1


@needs_data
def test_pcap_feed_on_real_capture() -> None:
    feed = PcapFeed(DATA / "pcap" / "Nasdaq.Equities.TotalView.Itch.v5.0" / "Multiple.Packets.pcap")
    pkts = list(feed)
    assert [len(p.payload) for p in pkts] == [41, 1472]
    assert all(p.rx_ns > 1_600_000_000 * 10**9 for p in pkts)
    assert feed.stats()["pcap_moldudp64"] == 2 and feed.stats()["pcap_frames"] == 2
    assert list(PcapFeed(feed.path, port=26477)) == pkts
    other = PcapFeed(feed.path, port=1)
    assert list(other) == [] and other.stats()["pcap_other_port"] == 2


@needs_data
def test_pcap_feed_skips_ouch() -> None:
    feed = PcapFeed(DATA / "pcap" / "Nasdaq.Nsm.Ouch.v5.0" / "EnterOrderMessage.pcap")
    assert list(feed) == []
    s = feed.stats()
    assert (s["pcap_frames"], s["pcap_tcp"], s["pcap_soupbintcp"], s["pcap_moldudp64"]) == (1, 1, 1, 0)


def test_pcap_round_trip_through_feeds(tmp_path: Path) -> None:
    msgs = _msgs(500)
    pkts = [Packet(p, 1_000 + i) for i, p in enumerate(pack_messages(msgs, end_of_session=True))]
    path = tmp_path / "x.pcap"
    write_pcap(path, pkts)
    assert list(PcapFeed(path)) == pkts


def test_open_feed_chooses_by_content(tmp_path: Path) -> None:
    bf = tmp_path / "looks_like.pcap"  # the name lies: content decides
    write_binaryfile(bf, [b"abc"])
    cap = tmp_path / "capture.bin"
    write_pcap(cap, [moldudp64.build("S", 1, [b"abc"])])
    capgz = tmp_path / "capture.bin.gz"
    capgz.write_bytes(gzip.compress(cap.read_bytes()))
    bfgz = tmp_path / "day.gz"
    write_binaryfile(bfgz, [b"abc"])
    assert isinstance(open_feed(bf), BinaryFileFeed)
    assert isinstance(open_feed(bfgz), BinaryFileFeed)
    assert isinstance(open_feed(cap, port=26477), PcapFeed)
    assert isinstance(open_feed(capgz), PcapFeed)
    assert [p.payload for p in open_feed(capgz)] == [moldudp64.build("S", 1, [b"abc"])]
    assert _unpack([p.payload for p in open_feed(bfgz, session="X")])[0] == (1, b"abc")
