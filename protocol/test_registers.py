"""Register fields: validation with precise messages, encoding, and what is generated from them."""

import pytest

from tickgate.protocol.config import MAX_LINE_WINDOW, CardConfig, register_writes
from tickgate.protocol.f2_map import RING_ALIGN, RING_MAX_LOG2, RingControl
from tickgate.protocol.registers import REGISTER_MAP, Control, Field, Register, RegisterMap
from tickgate.protocol.rules import PriceMode, Rule, RuleCondition, rule_writes


def test_every_read_write_register_has_fields():
    rw = [r for r in REGISTER_MAP if r.access == "rw"]
    assert {"control", "lines", "ring_base_lo", "ring_control", "rule_kind", "rule_write"} <= {r.name for r in rw}
    for r in rw:
        assert r.fields, f"register {r.name} has no fields"
    with pytest.raises(ValueError, match="register r: a read-write register needs its fields"):
        RegisterMap([Register("r", 0, 32, "rw", "doc")], size=0x10)


def test_flags_and_constants_agree_with_the_fields():
    assert [(c.name, c.value) for c in Control] == [("ENABLE", 1), ("CLEAR_COUNTERS", 2), ("TRACK_ALL", 4),
                                                     ("LEVEL_EVENTS", 8)]
    assert REGISTER_MAP["control"].field("clear_counters").access == "w1"
    ring = REGISTER_MAP["ring_control"]
    assert (ring.field("enable").mask, ring.field("reset").mask) == (RingControl.ENABLE, RingControl.RESET)
    assert 1 << REGISTER_MAP["ring_base_lo"].field("page").lo == RING_ALIGN
    assert REGISTER_MAP["ring_size_log2"].field("value").width == RING_MAX_LOG2.bit_length()
    assert MAX_LINE_WINDOW == 255


def test_encode_decode():
    assert REGISTER_MAP.encode("control", enable=1, track_all=True) == 0b101
    assert REGISTER_MAP.encode("dst_port", value=26477) == 26477
    assert REGISTER_MAP.encode("lines", two_lines=1, window=16) == 1 | 16 << 8
    assert REGISTER_MAP.decode("lines", 0xFFFF_FF01) == {"two_lines": 1, "window": 0xFF}
    with pytest.raises(ValueError, match=r"dst_port.value is 16 bits wide: 65536 does not fit"):
        REGISTER_MAP.encode("dst_port", value=1 << 16)
    with pytest.raises(KeyError, match="register control has no field 'nope'"):
        REGISTER_MAP.encode("control", nope=1)


def test_rule_kind_word_round_trips_through_the_fields():
    rule = Rule(locate=7, condition=RuleCondition.SPREAD_AT_OR_BELOW, threshold=100, side="S", shares=10, price=-3,
                price_mode=PriceMode.BID, tif="3", tag=9, fires=2)
    kind = rule.kind_word
    assert REGISTER_MAP.decode("rule_kind", kind) == {"condition": int(rule.condition), "price_mode": 1,
                                                       "side": ord("S"), "tif": ord("3")}
    staged = dict(rule_writes(4, rule))
    assert staged["rule_write"] == REGISTER_MAP["rule_write"].field("arm").mask
    assert Rule.from_registers(*(staged[f"rule_{n}"] for n in ("locate", "kind", "threshold", "shares", "price",
                                                                "tag", "fires"))) == rule


def test_register_writes_come_from_the_fields():
    writes = dict(register_writes(CardConfig(session=b"SESSION01 ", line_window=8, symbols=frozenset({"AAPL"}),
                                             level_events=True, max_levels=16), clear_counters=True))
    assert writes["lines"] == 0x801 and writes["symbol_write"] == 1 and writes["session_en"] == 1
    assert writes["control"] == Control.ENABLE | Control.LEVEL_EVENTS | Control.CLEAR_COUNTERS


@pytest.mark.parametrize(("fields", "access", "message"), [
    ((Field("a", 30, 3),), "rw", r"field a: bits 30..32 are not within 32 bits"),
    ((Field("a", 0, 4), Field("b", 3)), "rw", "field b overlaps another field"),
    ((Field("a", 0), Field("a", 1)), "rw", "field names must be unique"),
    ((Field("a", 0, access="rx"),), "rw", "field a: access must be 'rw', 'ro' or 'w1', not 'rx'"),
    ((Field("a", 0),), "ro", "field a: a read-only register has read-only fields"),
])
def test_field_validation(fields, access, message):
    with pytest.raises(ValueError, match=message):
        RegisterMap([Register("r", 0, 32, access, "doc", fields=fields)], size=0x10)


def test_cpp_fields_are_generated_from_the_fields():
    from tickgate.protocol import codegen_cpp

    text = codegen_cpp.render()
    for r in REGISTER_MAP:
        for f in r.fields:
            assert f"inline constexpr Field {r.name}_{f.name}{{{f.lo}, {f.width}}};" in text
            assert f"mask {f.mask:#010x}" in text
