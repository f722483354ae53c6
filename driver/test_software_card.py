"""SoftwareCard (C++) against the reference model: the same event bytes and counters on every stream."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from tickgate._driver import SoftwareCard
from tickgate.host.feeds import BinaryFileFeed, PcapFeed, pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.model.card import ReferenceCard
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import CardConfig
from tickgate.protocol.events import EVENT_DTYPE, EVENT_SIZE, EventKind
from tickgate.protocol.packet import Packet
from tickgate.protocol.registers import counter_names

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PCAPS = sorted(DATA.glob("pcap/*Itch*/*.pcap"))
ITCH_FILES = sorted(DATA.glob("itch/*.itch50"))


def pack_dma(packets: Iterable[Packet]) -> np.ndarray:
    """Packets as one DMA batch (`protocol.moldudp64.pack_dma`), as a uint8 array."""
    return np.frombuffer(mold.pack_dma(packets), dtype=np.uint8)


def take_all(card: SoftwareCard, chunk: int = 1 << 16) -> np.ndarray:
    """Every pending event, taken in chunks of at most `chunk` records."""
    parts = []
    out = np.empty(chunk, dtype=EVENT_DTYPE)
    while n := card.take_events(out):
        parts.append(out[:n].copy())
    return np.concatenate(parts) if parts else np.empty(0, dtype=EVENT_DTYPE)


def assert_same(packets: list[Packet], symbols: set[str] | None = None, chunk: int = 1 << 16, **config) -> np.ndarray:
    """Run both cards on `packets`; assert equal event bytes and counters; the events."""
    ref = ReferenceCard(CardConfig(symbols=frozenset(symbols) if symbols is not None else None, **config))
    want = ref.run(packets)
    card = SoftwareCard(sorted(symbols) if symbols is not None else None, **config)
    assert card.feed_dma(pack_dma(packets)) == len(packets)
    assert card.pending_events() == len(want)
    got = take_all(card, chunk)
    assert card.pending_events() == 0
    assert got.dtype == EVENT_DTYPE and len(got) == len(want)
    raw_got = got.view(np.uint8).reshape(-1, EVENT_SIZE)
    raw_want = want.view(np.uint8).reshape(-1, EVENT_SIZE)
    if not np.array_equal(raw_got, raw_want):
        bad = int(np.flatnonzero((raw_got != raw_want).any(axis=1))[0])
        pytest.fail(f"event {bad} differs:\n got {got[bad]}\nwant {want[bad]}")
    counters = card.counters()
    assert list(counters) == list(counter_names())
    assert counters == ref.counters
    return got


def timed(payloads: Iterable[bytes], start: int = 1_000) -> list[Packet]:
    """Packets with distinct receive times, so ts_local is checked too."""
    return [Packet(p, start + 37 * i) for i, p in enumerate(payloads)]


# -- generated streams ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_streams(seed: int) -> None:
    packets = timed(pack_messages(generate(50_000, 200, seed), end_of_session=True))
    ev = assert_same(packets)
    assert (ev["kind"] == EventKind.BBO).sum() > 10_000 and (ev["kind"] == EventKind.TRADE).sum() > 100


def test_generated_stream_tracking_some_symbols_with_small_take_chunks() -> None:
    msgs = list(generate(20_000, 50, 11))
    names = {itch.symbol(itch.decode(m).stock) for m in msgs if m[:1] == b"R"}
    tracked = set(sorted(names)[::3])
    ev = assert_same(timed(pack_messages(msgs)), symbols=tracked, chunk=7)
    assert len(ev) > 1000


def test_generated_stream_with_lost_repeated_and_cut_packets() -> None:
    rng = random.Random(5)
    packets: list[bytes] = []
    for p in pack_messages(generate(20_000, 100, 4), max_payload=400):
        r = rng.random()
        if r < 0.03:
            continue  # lost: a gap
        packets.append(p)
        if r < 0.06:
            packets.append(p)  # repeated whole
        elif r < 0.08:
            packets.append(p[: rng.randrange(len(p))])  # cut anywhere, header included
        elif r < 0.10 and len(packets) > 2:
            packets.append(packets[-3])  # late
    ev = assert_same(timed(packets))
    assert (ev["kind"] == EventKind.GAP).sum() > 5


# -- real data -----------------------------------------------------------------------------------------

def test_real_data_is_there() -> None:
    assert len(PCAPS) >= 10 and len(ITCH_FILES) == 3, f"real data missing under {DATA}"


@pytest.mark.parametrize("path", PCAPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_captures(path: Path) -> None:
    packets = list(PcapFeed(path))
    assert packets
    assert_same(packets)


@pytest.mark.parametrize("path", ITCH_FILES, ids=lambda p: p.name)
def test_itch_files(path: Path) -> None:
    packets = list(BinaryFileFeed(path))
    assert_same(packets)
    assert_same(packets, symbols={"AAPL", "MSFT", "SPY"})


# -- session cases ---------------------------------------------------------------------------------------

def sysev(code: str, ts: int = 1) -> bytes:
    return itch.encode(itch.make("S", timestamp=ts, event_code=code))


def test_session_cases() -> None:
    s = [sysev(c, i) for i, c in enumerate("OSQMEC", 1)]
    good = mold.build("SESS", 1, s[:1])
    payloads = [
        good[:10],  # shorter than the header
        mold.build("SESS", 1, s[:2]),
        mold.build("SESS", 1, s[:2]),  # whole duplicate
        mold.build("SESS", 2, s[1:3]),  # head already seen
        mold.build("SESS", 6, s[3:4]),  # gap
        mold.heartbeat("SESS", 7),
        mold.heartbeat("SESS", 9),  # heartbeat revealing a gap
        mold.heartbeat("SESS", 9) + b"x",  # malformed heartbeat
        mold.build("SESS", 9, s[:2])[:-3],  # second block cut
        mold.build("SESS", 11, s[:1]) + b"junk",  # bytes after the counted blocks
        mold.build("SESS", 12, [b"", b"\x00" * 12, s[0][:-1], s[0], b"Z" * 30]),  # bad messages
        mold.build("SESS", 17, s[:1])[:-len(s[0]) - 2],  # fewer blocks than the count
        mold.build("DAY2", 1, s[:1]),  # wrong session while SESS is live
        mold.end_of_session("SESS", 20),  # end, revealing a gap
        mold.end_of_session("SESS", 20),  # only one SESSION event
        mold.build("DAY2", 1, s[:3]),  # adopted
        mold.build("DAY2", 5, s[3:5]),
        mold.end_of_session("DAY2", 8) + b"\0",
        mold.build("DAY3", 4, s[:2]),
    ]
    ev = assert_same(timed(payloads))
    kinds = ev["kind"].tolist()
    assert kinds.count(EventKind.SESSION) == 4 and kinds.count(EventKind.GAP) >= 4


def test_configured_session_and_first_sequence() -> None:
    payloads = [mold.build("OTHER", 1, [sysev("O")]), mold.build("MINE", 3, [sysev("S"), sysev("Q")])]
    ev = assert_same(timed(payloads), session=b"MINE      ", first_sequence=2)
    assert ev["kind"].tolist() == [EventKind.GAP, EventKind.STATUS, EventKind.STATUS]


# -- book faults --------------------------------------------------------------------------------------------

def book_stream() -> list[bytes]:
    """Every book rule and fault, one message per packet, over three locates (MEAT, PYTH, and 9 unnamed)."""
    m = []

    def msg(t: str, **f) -> None:
        f.setdefault("timestamp", 1000 + len(m))
        m.append(itch.encode(itch.make(t, **f)))

    def add(ref: int, side: str, shares: int, price: int, locate: int = 1, t: str = "A") -> None:
        msg(t, stock_locate=locate, order_reference_number=ref, buy_sell_indicator=side, shares=shares,
            stock="MEAT", price=price)

    msg("S", event_code="O")
    msg("R", stock_locate=1, stock="MEAT")
    msg("R", stock_locate=2, stock="PYTH")
    msg("D", stock_locate=1, order_reference_number=99)  # unknown ref
    add(1, "B", 100, 100_000)
    add(2, "S", 50, 100_500, t="F")
    add(3, "B", 100, 100_000)  # same top price: size changes
    add(4, "B", 10, 99_000)  # below the top: no BBO
    msg("E", stock_locate=1, order_reference_number=1, executed_shares=30, match_number=1)
    msg("E", stock_locate=1, order_reference_number=1, executed_shares=500, match_number=2)  # oversized
    msg("C", stock_locate=1, order_reference_number=2, executed_shares=5, match_number=3, printable="N",
        execution_price=100_400)
    msg("X", stock_locate=1, order_reference_number=3, cancelled_shares=1000)  # oversized cancel
    add(5, "B", 0, 100_000)
    add(6, "X", 10, 100_000)
    add(7, "B", 10, 0)  # three invalid
    add(8, "B", 10, 100_000)
    add(8, "B", 20, 100_100)  # duplicate ref, same book
    add(8, "S", 20, 200_000, locate=2)  # duplicate ref, other book: both BBOs
    msg("U", stock_locate=2, original_order_reference_number=8, new_order_reference_number=9, shares=5,
        price=190_000)
    msg("U", stock_locate=2, original_order_reference_number=9, new_order_reference_number=10, shares=0,
        price=190_000)  # invalid replace: the original still goes
    msg("U", stock_locate=1, original_order_reference_number=4, new_order_reference_number=2, shares=7,
        price=99_500)  # replace onto a live reference
    msg("U", stock_locate=1, original_order_reference_number=77, new_order_reference_number=78, shares=1,
        price=1)  # unknown
    msg("P", stock_locate=1, order_reference_number=0, buy_sell_indicator="B", shares=300, stock="MEAT",
        price=100_200, match_number=4)
    msg("Q", stock_locate=2, shares=1 << 40, stock="PYTH", cross_price=150_000, match_number=5, cross_type="O")
    msg("H", stock_locate=1, stock="MEAT", trading_state="H", reason="LUDP")
    msg("H", stock_locate=9, stock="NONE", trading_state="T", reason="    ")
    add(11, "S", 100, 101_000, locate=9)  # not in the directory
    msg("D", stock_locate=9, order_reference_number=11)
    msg("D", stock_locate=9, order_reference_number=12)
    msg("E", stock_locate=2, order_reference_number=12, executed_shares=1, match_number=6)
    msg("D", stock_locate=1, order_reference_number=2)
    msg("B", stock_locate=1, match_number=4)
    msg("R", stock_locate=9, stock="LATE")  # named after its book exists
    add(13, "B", 100, 50_000, locate=9)
    msg("S", event_code="C")
    return m


@pytest.mark.parametrize("symbols", [None, {"MEAT"}, {"PYTH", "LATE"}, set()])
def test_book_rules_and_faults(symbols: set[str] | None) -> None:
    payloads = [mold.build("T", i + 1, [b]) for i, b in enumerate(book_stream())]
    ev = assert_same(timed(payloads), symbols=symbols)
    assert len(ev) >= 2  # the two system events at least


def test_book_faults_are_counted() -> None:
    payloads = timed(mold.build("T", i + 1, [b]) for i, b in enumerate(book_stream()))
    every = SoftwareCard()
    every.feed_dma(pack_dma(payloads))
    c = every.counters()
    assert (c["unknown_ref"], c["duplicate_ref"], c["oversized_reduce"], c["invalid_order"]) == (4, 3, 2, 4)
    assert c["untracked_symbol"] == 0 and c["events_trade"] == 5
    meat = SoftwareCard(["MEAT"])
    meat.feed_dma(pack_dma(payloads))
    c = meat.counters()
    assert (c["untracked_symbol"], c["unknown_ref"], c["duplicate_ref"]) == (8, 2, 2)


# -- the API --------------------------------------------------------------------------------------------------

def test_feed_one_packet_equals_the_batch() -> None:
    packets = timed(pack_messages(generate(3_000, 20, 9)))
    one = SoftwareCard()
    for p in packets:
        one.feed(p.payload, p.rx_ns)
    batch = SoftwareCard()
    batch.feed_dma(pack_dma(packets))
    assert np.array_equal(take_all(one), take_all(batch))
    assert one.counters() == batch.counters()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        SoftwareCard(["TOOLONGNAME"])
    with pytest.raises(ValueError, match="10 bytes"):
        SoftwareCard(session=b"MINE")
    card = SoftwareCard()
    batch = pack_dma(timed([mold.build("S", 1, [sysev("O")])]))
    with pytest.raises(ValueError, match="past the batch end"):
        card.feed_dma(batch[:-8])
    assert card.counters()["packets"] == 0  # nothing of a bad batch is used
    with pytest.raises(ValueError, match="EVENT_DTYPE"):
        card.take_events(np.empty(4, dtype=np.uint8))
    assert card.feed_dma(batch) == 1 and card.pending_events() == 1


def test_two_lines_directly_and_through_dma_flags() -> None:
    """A/B lines (model/lines.py): line A loses packet 2, B loses 3; fed one by one or as a DMA batch with the
    LINE_B flag and an END_OF_INPUT record, the C++ card and the model agree, with no gap."""
    sysev = [itch.encode(itch.make("S", timestamp=i, event_code="O")) for i in range(6)]
    stream = [mold.build("SESS", 1 + i, [m]) for i, m in enumerate(sysev)]
    feed = [(line, p) for i, p in enumerate(stream) for line in (0, 1) if (line, i) not in ((0, 2), (1, 3))]
    model = ReferenceCard(CardConfig(line_window=2))
    one, dma = SoftwareCard(line_window=2), SoftwareCard(line_window=2)
    for n, (line, p) in enumerate(feed):
        model.feed(p, n, line)
        one.feed(p, n, line)
    model.end_of_input()
    one.end_of_input()
    flags = mold.DmaFlag
    dma.feed_dma(np.frombuffer(mold.pack_dma([*((p, n, flags.LINE_B * line) for n, (line, p) in enumerate(feed)),
                                              (b"", 0, flags.END_OF_INPUT)]), dtype=np.uint8))
    want = model.take_events()
    assert len(want) == 6 and model.counters["seq_gaps"] == 0
    for card in (one, dma):
        assert take_all(card).tobytes() == want.tobytes()
        assert card.counters() == model.counters
    with pytest.raises(ValueError, match="line must be 0"):
        one.feed(stream[0], 0, 2)
    with pytest.raises(ValueError, match="line_window must be an integer from 0 to 255"):
        SoftwareCard(line_window=300)
