"""OUCH 5.0 and SoupBinTCP tables against the real OUCH 5.0 capture, and their codecs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tickgate.protocol import ouch
from tickgate.protocol import soupbintcp as soup
from tickgate.protocol.pcap import read_pcap

CAPTURE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pcap" / "Nasdaq.Nsm.Ouch.v5.0"


def _packets(name: str) -> list[bytes]:
    path = CAPTURE / f"{name}.pcap"
    if not path.exists():
        pytest.skip(f"capture {path} not present")
    (frame,) = list(read_pcap(path))
    assert frame.proto == "tcp"
    packets, used = soup.split(frame.payload)
    assert used == len(frame.payload)
    return packets


def test_enter_order_from_the_capture_decodes_and_encodes_back_byte_for_byte():
    (pkt,) = _packets("EnterOrderMessage")
    kind, payload = soup.decode(pkt)
    assert kind == "U" and isinstance(payload, bytes) and len(payload) == 47 + 6
    t, m = ouch.decode(payload, "in")
    assert t == "O"
    assert m == {"message_type": "O", "user_ref_num": 113, "side": "T", "quantity": 225, "symbol": "CVLT",
                 "price": 630200, "time_in_force": "0", "display": "Y", "capacity": "A", "intermarket_sweep": "N",
                 "cross_type": "N", "cl_ord_id": "H8FUB8IV", "appendage_length": 6, "appendage": b"\x05\x02LIME"}
    assert ouch.decode_options(m["appendage"]) == {"firm": "LIME"}
    fields = {k: v for k, v in m.items() if k not in ("message_type", "appendage_length", "appendage")}
    again = ouch.encode("O", "in", appendage=ouch.encode_options({"firm": "LIME"}), **fields)
    assert soup.frame("U", again) == pkt


def test_order_accepted_from_the_capture():
    (pkt,) = _packets("OrderAcceptedMessage")
    kind, payload = soup.decode(pkt)
    assert kind == "S" and len(payload) == 64 + 9
    t, m = ouch.decode(payload, "out")
    assert t == "A"
    assert (m["timestamp"], m["user_ref_num"], m["side"], m["quantity"], m["symbol"], m["price"]) == (
        44647483486087, 7682701, "B", 40, "ADBE", 4777800)
    assert (m["time_in_force"], m["display"], m["order_reference_number"], m["capacity"], m["order_state"],
            m["cl_ord_id"]) == ("5", "Y", 257340661, "A", "L", "7682701")
    assert ouch.decode_options(m["appendage"]) == {"firm": "MLRO", "bbo_weight_indicator": "0"}
    body = {k: v for k, v in m.items() if k not in ("message_type", "appendage_length", "appendage")}
    assert ouch.encode("A", "out", appendage=m["appendage"], **body) == payload


def test_cancel_and_canceled_from_the_capture():
    (pkt,) = _packets("CancelOrderMessage")
    kind, payload = soup.decode(pkt)
    assert kind == "U" and ouch.decode(payload, "in") == (
        "X", {"message_type": "X", "user_ref_num": 7679601, "quantity": 0})
    assert soup.frame("U", ouch.encode("X", "in", user_ref_num=7679601, quantity=0)) == pkt
    (pkt,) = _packets("CanceledMessage")
    kind, payload = soup.decode(pkt)
    assert kind == "S"
    t, m = ouch.decode(payload, "out")
    assert (t, m["timestamp"], m["user_ref_num"], m["quantity"], m["reason"]) == ("C", 44647483708183, 7682701, 40, "U")
    assert ouch.CANCEL_REASONS[m["reason"]] == "User Requested"
    assert ouch.encode("C", "out", timestamp=44647483708183, user_ref_num=7682701, quantity=40, reason="U") == payload


def test_heartbeats_from_the_capture():
    assert _packets("ClientHeartbeatPacket") == [soup.encode("R")] == [b"\x00\x01R"]
    assert _packets("ServerHeartbeatPacket") == [soup.encode("H")] == [b"\x00\x01H"]
    assert soup.decode(b"\x00\x01H") == ("H", {})


def test_spec_lengths_and_offsets_come_from_the_tables():
    enter = ouch.BY_TYPE["in", "O"]
    assert [(f.name, f.offset, f.width) for f in enter.fields][1:6] == [
        ("user_ref_num", 1, 4), ("side", 5, 1), ("quantity", 6, 4), ("symbol", 10, 8), ("price", 18, 8)]
    assert (enter.field("time_in_force").offset, enter.field("cl_ord_id").offset,
            enter.field("appendage_length").offset, enter.length) == (26, 31, 45, 47)
    assert ouch.BY_TYPE["out", "J"].field("reason").width == 2 and ouch.BY_TYPE["out", "J"].length == 29
    assert ouch.BY_TYPE["out", "E"].field("match_number").offset == 26
    assert soup.BY_TYPE["L"].length_field == 47 and soup.BY_TYPE["A"].length_field == 31


def test_soup_login_packets_round_trip():
    raw = soup.encode("L", username="tick", password="gate", requested_session="", requested_sequence_number=17)
    assert len(raw) == 49 and raw[:3] == b"\x00\x2fL"
    assert raw[-20:] == b"17".rjust(20)
    assert soup.decode(raw) == ("L", {"username": "tick", "password": "gate", "requested_session": "",
                                      "requested_sequence_number": 17})
    acc = soup.encode("A", session="SIM0000001", sequence_number=5)
    assert soup.decode(acc) == ("A", {"session": "SIM0000001", "sequence_number": 5})
    # a server that left-justifies its numbers (nasdaq-protocols does) is read the same way
    assert soup.decode(b"\x00\x1fASIM0000001" + b"5".ljust(20))[1]["sequence_number"] == 5
    assert soup.decode(soup.encode("J", reject_reason_code="S")) == ("J", {"reject_reason_code": "S"})
    assert soup.LOGIN_REJECT_REASONS["A"] == "not authorized"


def test_soup_split_keeps_incomplete_tail():
    stream = soup.frame("S", b"abc") + soup.encode("H") + soup.frame("S", b"xyz")[:4]
    packets, used = soup.split(stream)
    assert packets == [b"\x00\x04Sabc", b"\x00\x01H"] and used == 9


@pytest.mark.parametrize("bad, match", [
    (b"\x00\x05H", "disagrees"), (b"\x00\x01?", "unknown"), (b"\x00\x02H!", "spec says"), (b"\x00", "shorter"),
    (b"\x00\x1fASIM0000001" + b"x".rjust(20), "not a number"),
])
def test_soup_bad_packets_raise(bad, match):
    with pytest.raises(soup.SoupError, match=match):
        soup.decode(bad)


def test_ouch_bad_messages_raise():
    with pytest.raises(ouch.OuchError, match="unknown"):
        ouch.decode(b"Q" + bytes(20), "out")
    with pytest.raises(ouch.OuchError, match="spec says 18"):
        ouch.decode(b"C" + bytes(10), "out")
    with pytest.raises(ouch.OuchError, match="appendage length 5"):
        ouch.decode(ouch.encode("E", "out")[:-2] + b"\x00\x05ab", "out")
    with pytest.raises(ouch.OuchError, match="longer than 8"):
        ouch.encode("O", symbol="TOOLONGSYM")
    with pytest.raises(ouch.OuchError, match="does not fit"):
        ouch.encode("X", user_ref_num=1 << 32)
    with pytest.raises(ouch.OuchError, match="no field"):
        ouch.encode("X", shares=1)


def test_executed_and_rejected_round_trip_and_reason_text():
    e = ouch.encode("E", "out", timestamp=1, user_ref_num=9, quantity=100, price=1234500, liquidity_flag="R",
                    match_number=77)
    assert len(e) == 36
    assert ouch.decode(e)[1]["match_number"] == 77 and ouch.decode(e)[1]["appendage"] == b""
    j = ouch.encode("J", "out", timestamp=2, user_ref_num=9, reason=0x17, cl_ord_id="9")
    assert len(j) == 29 and ouch.decode(j)[1]["reason"] == 0x17
    assert ouch.reject_reason_text(0x17) == "Invalid Symbol (0x0017)"
    assert ouch.reject_reason_text(0x99) == "Unknown reason (0x0099)"


def test_fast_encoder_equals_encode():
    enter = ouch.encoder("O", "in", ("user_ref_num", "side", "quantity", "symbol", "price", "time_in_force"),
                         display="Y", capacity="A", intermarket_sweep="N", cross_type="N")
    assert enter(5, "B", 100, "AAPL", 1_000_000, "3") == ouch.encode(
        "O", user_ref_num=5, side="B", quantity=100, symbol="AAPL", price=1_000_000, time_in_force="3", display="Y",
        capacity="A", intermarket_sweep="N", cross_type="N")
    with pytest.raises(ouch.OuchError):
        enter(1 << 33, "B", 1, "A", 1, "0")
