"""Register fields: validation with precise messages, encoding, and what is generated from them."""

import pytest

from tickgate.protocol.registers import REGISTER_MAP, Control, Field, Register, RegisterMap


def test_every_read_write_register_has_fields():
    for r in REGISTER_MAP:
        if r.access == "rw":
            assert r.fields, f"register {r.name} has no fields"


def test_control_flags_come_from_the_fields():
    assert [(c.name, c.value) for c in Control] == [("ENABLE", 1), ("CLEAR_COUNTERS", 2), ("TRACK_ALL", 4),
                                                     ("LEVEL_EVENTS", 8)]
    assert REGISTER_MAP["control"].field("clear_counters").access == "w1"


def test_encode():
    assert REGISTER_MAP.encode("control", enable=1, track_all=True) == 0b101
    assert REGISTER_MAP.encode("dst_port", value=26477) == 26477
    with pytest.raises(ValueError, match=r"dst_port.value is 16 bits wide: 65536 does not fit"):
        REGISTER_MAP.encode("dst_port", value=1 << 16)
    with pytest.raises(KeyError, match="register control has no field 'nope'"):
        REGISTER_MAP.encode("control", nope=1)


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


def test_csr_block_stores_exactly_the_stored_fields():
    from tickgate.hdl.csr import CLEAR_BIT, CONFIG_BITS, implemented

    for name, bits in CONFIG_BITS.items():
        stored = sum(f.mask for f in REGISTER_MAP[name].fields if f.access == "rw")
        assert implemented(name) == stored, name
        assert len(bits) == sum(f.access == "rw" for f in REGISTER_MAP[name].fields)
    assert 1 << CLEAR_BIT == Control.CLEAR_COUNTERS


def test_cpp_masks_are_generated_from_the_fields():
    from tickgate.protocol import codegen_cpp

    text = codegen_cpp.render()
    for r in REGISTER_MAP:
        for f in r.fields:
            assert f"inline constexpr std::uint32_t {r.name}_{f.name} = {f.mask:#010x};" in text
