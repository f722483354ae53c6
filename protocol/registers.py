"""The register map of the card: configuration and counters, defined once.

The Amaranth CSR block, the C++ offsets and the Python names all come from `REGISTER_MAP`. Registers are
32 bits wide on AXI-Lite; a counter is 64 bits and takes two words (low word first, at an 8-byte aligned
offset). Every counter a backend keeps is named here: backends report counters by these names.

Every read-write register has its fields (`Field`: name, bits, access), as amaranth-soc's registers have
theirs: the CSR block's bit mapping (`hdl.csr.CONFIG_BITS`), the register writes of a configuration
(`protocol.config.register_writes` and `protocol.rules`, through `RegisterMap.encode`), `Control` and the C++
masks (`tickgate::regs::field`, generated) all come from them. Bits outside a register's fields read 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntFlag

from .f2_map import HEAD_LINE_BYTES, RING_ALIGN, RING_MAX_LOG2, RingControl
from .itch_spec import MESSAGES

__all__ = ["COUNTERS", "EVENT_COUNTERS", "MAP_VERSION", "REGISTER_MAP", "Control", "Field", "Register", "RegisterMap",
           "counter_names"]

MAP_VERSION = 7  # 3: level events, symbol names, order tables, latency, DMA buffer levels; 4: packets_oversize;
#                5: the F2 host event ring (ring_* registers, ring_full and pcim_errors); 6: A/B lines (`lines`
#                register, line_a_* and line_b_* counters); 7: armed rules (cap_rules, rule_* registers,
#                events_fire and the rules_* counters)
ID_MAGIC = 0x544B4754  # "TKGT"


FIELD_ACCESS = ("rw", "ro", "w1")


@dataclass(frozen=True)
class Field:
    """Bits `lo`..`lo + width - 1` of a register. Access: 'rw' (stored, reads back), 'ro' (read only), or
    'w1' (a command: a write of the register acts once with the bit's value; the bit reads 0)."""

    name: str
    lo: int
    width: int = 1
    access: str = "rw"
    doc: str = ""

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lo


@dataclass(frozen=True)
class Register:
    """One register: name, byte offset, width in bits (32 or 64), access ('ro' or 'rw'), meaning, fields."""

    name: str
    offset: int
    width: int
    access: str
    doc: str
    group: str = "config"
    fields: tuple[Field, ...] = ()

    @property
    def size(self) -> int:
        return self.width // 8

    def field(self, name: str) -> Field:
        """The field called `name` (KeyError naming the fields there are)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"register {self.name} has no field {name!r} (has {[f.name for f in self.fields]})")


class RegisterMap:
    """An ordered, validated set of registers: unique names, aligned and non-overlapping offsets."""

    def __init__(self, registers: Iterable[Register], *, size: int) -> None:
        self._by_name: dict[str, Register] = {}
        spans: list[tuple[int, int, str]] = []
        for r in registers:
            if r.width not in (32, 64):
                raise ValueError(f"register {r.name}: width must be 32 or 64, not {r.width}")
            if r.access not in ("ro", "rw"):
                raise ValueError(f"register {r.name}: access must be 'ro' or 'rw', not {r.access!r}")
            if r.offset % r.size:
                raise ValueError(f"register {r.name}: offset {r.offset:#x} is not {r.size}-byte aligned")
            if r.offset + r.size > size:
                raise ValueError(f"register {r.name}: ends past the {size:#x}-byte map")
            if r.name in self._by_name:
                raise ValueError(f"register {r.name} defined twice")
            self._check_fields(r)
            self._by_name[r.name] = r
            spans.append((r.offset, r.offset + r.size, r.name))
        spans.sort()
        for (_a0, a1, an), (b0, _b1, bn) in itertools.pairwise(spans):
            if b0 < a1:
                raise ValueError(f"registers {an} and {bn} overlap")
        self.size = size

    @staticmethod
    def _check_fields(r: Register) -> None:
        taken = 0
        for f in r.fields:
            if f.access not in FIELD_ACCESS:
                raise ValueError(f"register {r.name} field {f.name}: access must be 'rw', 'ro' or 'w1', "
                                 f"not {f.access!r}")
            if f.width < 1 or f.lo < 0 or f.lo + f.width > r.width:
                raise ValueError(f"register {r.name} field {f.name}: bits {f.lo}..{f.lo + f.width - 1} are not "
                                 f"within {r.width} bits")
            if f.access != "ro" and r.access == "ro":
                raise ValueError(f"register {r.name} field {f.name}: a read-only register has read-only fields")
            if taken & f.mask:
                raise ValueError(f"register {r.name} field {f.name} overlaps another field")
            taken |= f.mask
        if len({f.name for f in r.fields}) != len(r.fields):
            raise ValueError(f"register {r.name}: field names must be unique")
        if r.access == "rw" and not r.fields:
            raise ValueError(f"register {r.name}: a read-write register needs its fields")

    def encode(self, name: str, **values: int) -> int:
        """The value of register `name` with the given fields set (the others 0), e.g.
        `encode("control", enable=1, track_all=1)`; ValueError for a value that does not fit its field."""
        reg = self[name]
        word = 0
        for field_name, value in values.items():
            f = reg.field(field_name)
            if not 0 <= int(value) < 1 << f.width:
                raise ValueError(f"{name}.{field_name} is {f.width} bits wide: {value!r} does not fit")
            word |= int(value) << f.lo
        return word

    def decode(self, name: str, word: int) -> dict[str, int]:
        """The fields of register `name` in `word`, by field name (bits outside them ignored)."""
        return {f.name: word >> f.lo & ((1 << f.width) - 1) for f in self[name].fields}

    def __iter__(self) -> Iterator[Register]:
        return iter(sorted(self._by_name.values(), key=lambda r: r.offset))

    def __getitem__(self, name: str) -> Register:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no register named {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def group(self, group: str) -> list[Register]:
        return [r for r in self if r.group == group]


# (name, meaning) of every counter, in register order.
COUNTERS: tuple[tuple[str, str], ...] = (
    # Ethernet / IPv4 / UDP front end (network-attached card)
    ("eth_frames", "Ethernet frames received"),
    ("eth_passed", "frames passed on as MoldUDP64 packets"),
    ("eth_not_ipv4", "frames that are not IPv4 (after any 802.1Q tags)"),
    ("eth_bad_ip_header", "IPv4 headers with a wrong version, header length or total length"),
    ("eth_bad_ip_checksum", "IPv4 headers whose checksum does not verify"),
    ("eth_ip_fragment", "IPv4 fragments"),
    ("eth_not_udp", "IPv4 packets that are not UDP"),
    ("eth_wrong_address", "UDP datagrams to another destination address"),
    ("eth_wrong_port", "UDP datagrams to another destination port"),
    ("eth_bad_udp_length", "UDP lengths that disagree with the IPv4 length"),
    ("eth_truncated", "frames that end before their UDP payload does"),
    # DMA path (F1): the per-packet DMA header of `moldudp64.pack_dma`
    ("dma_bad_length", "DMA headers whose reserved fields are not zero (framing lost)"),
    ("dma_skipped_words", "64-bit words skipped while finding the next DMA header or with an oversize packet"),
    # (here, not appended: the book engine keeps every counter from untracked_symbol on as its own)
    ("packets_oversize", "packets longer than MAX_PACKET (or than the image's DMA unframer takes), dropped whole"),
    # host event ring (F2, `protocol.f2_map`)
    ("ring_full", "events held because the host ring had no free record (counted once per event)"),
    ("pcim_errors", "PCIM writes into host memory answered with an error (their records are lost)"),
    # A/B line arbitration (`model.lines`): per line, counted only when the card takes two lines
    *((f"line_{x}_{what}", f"line {x.upper()}: {doc}") for x in "ab" for what, doc in (
        ("received", "packets received"),
        ("used", "data packets that brought a new message (the first copy)"),
        ("duplicate", "data packets whose messages had all been used already (from either line)"),
        ("late", "data packets holding a message already declared missed (they came after the window)"),
    )),
    # MoldUDP64 session
    ("packets", "MoldUDP64 packets received"),
    ("packets_heartbeat", "heartbeat packets (message count 0)"),
    ("packets_end_of_session", "end-of-session packets (message count 0xFFFF)"),
    ("packets_duplicate", "packets whose messages had all been seen already"),
    ("packets_wrong_session", "packets of another session, dropped"),
    ("packets_malformed", "packets shorter than the header, or whose count disagrees with their contents"),
    ("session_changes", "new sessions adopted after an end of session"),
    ("seq_gaps", "sequence gaps detected"),
    ("messages_missed", "messages lost in sequence gaps"),
    ("messages_duplicate", "already-seen messages skipped in a partly repeated packet"),
    # framing and decode
    ("messages", "messages framed from new packet data"),
    ("msg_truncated", "messages whose length runs past the end of the packet"),
    ("msg_bad_length", "messages of length zero or other than their type's"),
    ("msg_unknown_type", "messages of a type not in ITCH 5.0"),
    *((f"type_{m.type}", f"well-formed {m.name} ({m.type}) messages") for m in MESSAGES),
    # book
    ("untracked_symbol", "messages for a symbol that is not tracked"),
    ("unknown_ref", "executions, cancels, deletes and replaces of an unknown order reference"),
    ("duplicate_ref", "adds and replaces onto a live order reference (the old order is removed)"),
    ("oversized_reduce", "executions and cancels larger than the order, clamped to it"),
    ("invalid_order", "adds and replaces with zero shares, zero price or a bad side, not applied"),
    ("order_table_full", "orders that found no room in the order table"),
    ("order_table_second_choice", "orders placed in their right-bank bucket (the left one had fewer free ways)"),
    ("order_table_stashed", "orders placed in the stash (both buckets full)"),
    ("level_missing", "reductions whose price level is not held (only in a degraded book)"),
    ("levels_full", "price levels that found no room on their side, or whose shares would pass 2**32 - 1 (held there)"),
    ("symbols_full", "symbols that found no book slot"),
    ("degraded_symbols", "symbols marked degraded"),
    # events
    ("events", "events emitted"),
    ("events_bbo", "top-of-book events"),
    ("events_trade", "trade events"),
    ("events_status", "status events"),
    ("events_gap", "sequence gap events"),
    ("events_session", "session events"),
    ("events_degraded", "degraded-symbol events"),
    ("events_level", "price-level events"),
    # armed rules (`protocol.rules`)
    ("events_fire", "fire events: an armed rule held (its order is the host's to send)"),
    ("rules_disarmed", "rules disarmed by their last fire"),
    ("rules_held_degraded", "rule conditions that held on a degraded book: not fired"),
    ("rules_no_price", "rule conditions that held whose relative price had no touch or left 1..2**32-1: not fired"),
    ("rule_writes_refused", "rule_write commands refused: rule_index past cap_rules, or a field out of range"),
)

#: The counter each event kind advances (besides `events`), by the kind's letter.
EVENT_COUNTERS: dict[str, str] = {
    "B": "events_bbo", "T": "events_trade", "S": "events_status", "G": "events_gap", "Z": "events_session",
    "D": "events_degraded", "L": "events_level", "F": "events_fire",
}

COUNTER_BASE = 0x400


def _bit(flag: int) -> int:
    return flag.bit_length() - 1


_PAGE_BITS = _bit(RING_ALIGN)  # low address bits of the ring base that are zero (12)
_LINE_BITS = _bit(HEAD_LINE_BYTES)  # low address bits of the head line that are zero (6)
_WORD = (Field("value", 0, 32),)
_HALF = (Field("value", 0, 16),)
_FLAG = (Field("en", 0),)

_CONFIG: tuple[Register, ...] = (
    Register("id", 0x000, 32, "ro", "0x544B4754, 'TKGT'"),
    Register("map_version", 0x004, 32, "ro", "version of this register map"),
    Register("control", 0x008, 32, "rw",
             "bit 0 enable, bit 1 clear counters, bit 2 track all symbols, bit 3 price-level (L) events", fields=(
                 Field("enable", 0, doc="the card takes input"),
                 Field("clear_counters", 1, access="w1", doc="clears every counter and the latency statistics"),
                 Field("track_all", 2, doc="every symbol gets a book slot on first use (else: the names written)"),
                 Field("level_events", 3, doc="price-level (L) events"))),
    Register("status", 0x00C, 32, "ro", "bit 0 session locked, bit 1 end of session seen", fields=(
        Field("locked", 0, access="ro"), Field("end_of_session", 1, access="ro"))),
    Register("cap_orders", 0x010, 32, "ro", "order table capacity"),
    Register("cap_levels", 0x014, 32, "ro", "price levels kept per side"),
    Register("cap_symbols", 0x018, 32, "ro", "book slots for tracked symbols"),
    Register("cap_rules", 0x01C, 32, "ro", "entries of the rule table (armed rules, `protocol.rules`)"),
    # MoldUDP64 session (model.session.MoldSession's arguments); read as each packet header arrives
    Register("session_0", 0x020, 32, "rw", "session bytes 0-3 as sent on the wire, byte 0 in bits 0-7", fields=_WORD),
    Register("session_1", 0x024, 32, "rw", "session bytes 4-7 as sent on the wire, byte 4 in bits 0-7", fields=_WORD),
    Register("session_2", 0x028, 32, "rw", "session bytes 8-9 as sent on the wire, byte 8 in bits 0-7", fields=_HALF),
    Register("session_en", 0x02C, 32, "rw", "bit 0: only the session in session_0..2 is accepted", fields=_FLAG),
    Register("first_sequence_lo", 0x030, 32, "rw", "first sequence number expected, bits 0-31", fields=_WORD),
    Register("first_sequence_hi", 0x034, 32, "rw", "first sequence number expected, bits 32-63", fields=_WORD),
    Register("first_sequence_en", 0x038, 32, "rw", "bit 0: expect first_sequence first, not the first packet's",
             fields=_FLAG),
    # UDP destination filter of the network front end
    Register("dst_ip", 0x040, 32, "rw", "destination IPv4 address as a number (10.0.0.1 = 0x0A000001)",
             fields=_WORD),
    Register("dst_ip_check", 0x044, 32, "rw", "bit 0: drop datagrams not sent to dst_ip", fields=_FLAG),
    Register("dst_port", 0x048, 32, "rw", "bits 0-15: destination UDP port", fields=_HALF),
    Register("dst_port_check", 0x04C, 32, "rw", "bit 0: drop datagrams not sent to dst_port", fields=_FLAG),
    Register("ignore_ip_checksum", 0x050, 32, "rw", "bit 0: accept IPv4 headers whose checksum does not verify",
             fields=_FLAG),
    Register("lines", 0x054, 32, "rw",
             "bit 0: two lines, A and B, arbitrated (`model.lines`); bits 8-15: the window, in packets", fields=(
                 Field("two_lines", 0, doc="lines A and B, arbitrated"),
                 Field("window", 8, 8, doc="how far one line may run ahead of the other, in packets"))),
    # book state
    Register("orders_live", 0x058, 32, "ro", "orders held in the order table now"),
    Register("symbols_live", 0x05C, 32, "ro", "book slots taken"),
    # DMA path (F1): buffer levels the driver polls instead of reading counters
    Register("events_ready", 0x060, 32, "ro", "events waiting in the egress buffer (C2H reads take them)"),
    Register("ingress_free", 0x064, 32, "ro", "bytes free in the ingress buffer (H2C writes fill it)"),
    # symbol names: a tracked symbol's stock directory (R) message gives its locate a book slot on first use
    Register("symbol_index", 0x070, 32, "rw", "entry of the symbol-name table the next symbol_write sets",
             fields=_HALF),
    Register("symbol_name_lo", 0x074, 32, "rw", "symbol bytes 0-3 as on the wire (space padded), byte 0 low",
             fields=_WORD),
    Register("symbol_name_hi", 0x078, 32, "rw", "symbol bytes 4-7 as on the wire (space padded), byte 4 low",
             fields=_WORD),
    Register("symbol_write", 0x07C, 32, "rw",
             "write: bit 0 set stores symbol_name at symbol_index, clear empties it; reads 0",
             fields=(Field("set", 0, access="w1", doc="1 stores symbol_name, 0 empties the entry"),)),
    # latency, in clock cycles from the beat holding a message's last byte to its first event
    Register("latency_min", 0x080, 32, "ro", "smallest latency seen, cycles (0xFFFFFFFF before any)"),
    Register("latency_max", 0x084, 32, "ro", "largest latency seen, cycles"),
    Register("latency_count", 0x088, 64, "ro", "messages measured", group="latency"),
    Register("latency_sum", 0x090, 64, "ro", "sum of their latencies, cycles", group="latency"),
    # host event ring (F2): `protocol.f2_map` says how the host sets it up and polls it
    Register("ring_base_lo", 0x0A0, 32, "rw", "bus address of the host event ring, bits 0-31 (4 KiB aligned)",
             fields=(Field("page", _PAGE_BITS, 32 - _PAGE_BITS),)),
    Register("ring_base_hi", 0x0A4, 32, "rw", "bus address of the host event ring, bits 32-63", fields=_WORD),
    Register("ring_head_lo", 0x0A8, 32, "rw", "bus address of the ring's head line, bits 0-31 (64-byte aligned)",
             fields=(Field("line", _LINE_BITS, 32 - _LINE_BITS),)),
    Register("ring_head_hi", 0x0AC, 32, "rw", "bus address of the ring's head line, bits 32-63", fields=_WORD),
    Register("ring_size_log2", 0x0B0, 32, "rw", "log2 of the ring's records (f2_map.RING_MIN_LOG2..RING_MAX_LOG2)",
             fields=(Field("value", 0, RING_MAX_LOG2.bit_length()),)),
    Register("ring_control", 0x0B4, 32, "rw", "bit 0 enable, bit 1 reset both indices (a command; reads 0)", fields=(
                 Field("enable", _bit(RingControl.ENABLE), doc="the card writes events into the host ring"),
                 Field("reset", _bit(RingControl.RESET), access="w1", doc="both indices to 0"))),
    Register("ring_consumer", 0x0B8, 32, "rw", "records the host has consumed, modulo 2**32", fields=_WORD),
    Register("ring_producer", 0x0BC, 32, "ro", "records the card has written and announced, modulo 2**32"),
    # the rule table (`protocol.rules`): fields staged here, stored at rule_index by rule_write
    Register("rule_index", 0x0C0, 32, "rw", "entry of the rule table the next rule_write sets (rule_left reads)",
             fields=(Field("value", 0, 32, doc="an index at or past cap_rules is stored; its rule_write is refused"),)),
    Register("rule_locate", 0x0C4, 32, "rw", "bits 0-15: the ITCH stock locate whose book the rule watches",
             fields=(Field("value", 0, 32, doc="stored whole; the rule takes bits 0-15"),)),
    Register("rule_kind", 0x0C8, 32, "rw",
             "bits 0-7 RuleCondition, 8-15 PriceMode, 16-23 side (B or S), 24-31 OUCH time in force byte", fields=(
                 Field("condition", 0, 8, doc="protocol.rules.RuleCondition"),
                 Field("price_mode", 8, 8, doc="protocol.rules.PriceMode"),
                 Field("side", 16, 8, doc="'B' or 'S', as an ASCII byte"),
                 Field("tif", 24, 8, doc="OUCH time in force, as an ASCII byte"))),
    Register("rule_threshold", 0x0CC, 32, "rw",
             "price (Price(4)), spread width (Price(4)) or imbalance ratio (Q16.16), by the condition", fields=_WORD),
    Register("rule_shares", 0x0D0, 32, "rw", "the order's shares (at least 1)", fields=_WORD),
    Register("rule_price", 0x0D4, 32, "rw", "FIXED: the limit price; BID/ASK: signed offset from that touch",
             fields=_WORD),
    Register("rule_tag", 0x0D8, 32, "rw", "copied into the fire event (fire_tag): the strategy's own", fields=_WORD),
    Register("rule_fires", 0x0DC, 32, "rw", "fires before the rule disarms (at least 1)", fields=_WORD),
    Register("rule_write", 0x0E0, 32, "rw",
             "write: bit 0 set arms rule_index with the staged fields, clear disarms it; reads 0",
             fields=(Field("arm", 0, access="w1", doc="1 arms rule_index with the staged fields, 0 disarms it"),)),
    Register("rule_left", 0x0E4, 32, "ro", "fires left to the rule at rule_index (0: disarmed)"),
)


def _counter_registers() -> Iterator[Register]:
    for i, (name, doc) in enumerate(COUNTERS):
        yield Register(name, COUNTER_BASE + 8 * i, 64, "ro", doc, group="counter")


REGISTER_MAP = RegisterMap((*_CONFIG, *_counter_registers()), size=0x1000)

#: The fields of `control` as flags (ENABLE, CLEAR_COUNTERS, TRACK_ALL, LEVEL_EVENTS).
Control = IntFlag("Control", {f.name.upper(): f.mask for f in REGISTER_MAP["control"].fields})


def counter_names() -> tuple[str, ...]:
    """Every counter name, in register order."""
    return tuple(name for name, _ in COUNTERS)
