"""Every real capture and sample file in ../shared/data goes through the reference model, fully accounted."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import DATA
from tickgate.host.feeds import BinaryFileFeed, PcapFeed, open_feed
from tickgate.model.card import ReferenceCard
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.events import EVENT_DTYPE, EventKind

ITCH_PCAPS = sorted(p for p in DATA.glob("pcap/*Itch*/*.pcap"))
OUCH_PCAPS = sorted(DATA.glob("pcap/*Ouch*/*.pcap"))
ITCH_FILES = sorted(DATA.glob("itch/*.itch50"))


def accounted(c: dict[str, int]) -> int:
    """Messages accounted for by type or by the reason they could not be decoded."""
    typed = sum(v for k, v in c.items() if k.startswith("type_"))
    return typed + c["msg_truncated"] + c["msg_bad_length"] + c["msg_unknown_type"]


def test_the_data_is_there():
    assert len(ITCH_PCAPS) >= 40 and len(OUCH_PCAPS) == 6 and len(ITCH_FILES) == 3


@pytest.mark.parametrize("path", ITCH_PCAPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_itch_capture_through_the_model(path):
    packets = list(PcapFeed(path))
    assert packets, "no MoldUDP64 packet found"
    expected = [itch.decode(b) for p in packets for b in mold.blocks(p.payload)]
    card = ReferenceCard()
    events = card.run(packets)
    c = card.counters
    assert events.dtype == EVENT_DTYPE
    assert c["packets"] == len(packets) and c["packets_malformed"] == 0
    # zeroed-header captures repeat sequence 0: only the first packet's messages are new
    if all(mold.parse_header(p.payload).sequence_number == 0 for p in packets):
        expected = list(mold.blocks(packets[0].payload))
    assert c["messages"] == len(expected) == accounted(c)
    assert c["msg_unknown_type"] == 0 and c["msg_bad_length"] == 0
    rx_of: dict[int, int] = {}  # sequence number -> receive time of the first packet that carried it
    for p in packets:
        hdr = mold.parse_header(p.payload)
        if not (hdr.is_heartbeat or hdr.is_end_of_session):
            for i in range(hdr.message_count):
                rx_of.setdefault(hdr.sequence_number + i, p.rx_ns)
    for e in events[events["kind"] == EventKind.BBO]:
        assert e["ts_local"] == rx_of[int(e["seq"])] > 0


def test_multiple_packets_capture_books_meta():
    path = DATA / "pcap/Nasdaq.Equities.TotalView.Itch.v5.0/Multiple.Packets.pcap"
    card = ReferenceCard()
    events = card.run(PcapFeed(path))
    book = card.book(6514)
    assert book is not None and len(book.bids) + len(book.asks) > 10
    bbo = events[events["kind"] == EventKind.BBO]
    assert bbo[-1]["locate"] == 6514
    bid_px, ask_px = book.bids.best()[0], book.asks.best()[0]
    assert (bbo[-1]["bid_px"], bbo[-1]["ask_px"]) == (bid_px, ask_px) and bid_px < ask_px
    assert card.counters["seq_gaps"] == 1  # the two packets are far apart in the session


@pytest.mark.parametrize("path", OUCH_PCAPS, ids=lambda p: p.name)
def test_ouch_captures_are_soupbintcp_not_market_data(path):
    feed = PcapFeed(path)
    assert list(feed) == []
    assert feed.stats()["pcap_soupbintcp"] >= 1


def test_truncated_file_gives_16_messages_and_a_counter():
    feed = BinaryFileFeed(DATA / "itch/nasdaq_2016_truncated_500B.itch50")
    card = ReferenceCard()
    card.run(feed)
    assert card.counters["messages"] == 16 == accounted(card.counters)
    assert feed.stats()["file_truncated_bytes"] > 0


def test_day_start_builds_the_directory():
    card = ReferenceCard()
    events = card.run(open_feed(DATA / "itch/nasdaq_day_start_1000msgs.itch50"))
    assert card.counters["messages"] == 1000 == accounted(card.counters)
    assert card.counters["type_R"] == 993 and len(card.directory) == 993
    assert card.directory[1] == "A" and "AAPL" in card.directory.values()
    assert len(set(card.directory.values())) == 993
    status = events[events["kind"] == EventKind.STATUS]
    assert np.all(np.diff(status["seq"].astype(np.int64)) > 0)
