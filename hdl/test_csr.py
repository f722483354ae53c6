"""CsrBlock in Amaranth's simulator, through its AXI4-Lite port: every register of the map, strobes,
atomic counter reads, the clear pulse, error responses, channel orderings, back-to-back traffic; then
Verilog conversion and Verilator lint."""

import gc
import random
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable, Value
from amaranth.sim import Simulator

from tickgate.hdl.axi_lite_sim import Manager as AxiLiteManager
from tickgate.hdl.csr import (
    ADDR_WIDTH,
    CLEAR_BIT,
    CONFIG_BITS,
    OKAY,
    RING_RESET_BIT,
    SLVERR,
    AxiLiteSignature,
    CsrBlock,
    implemented,
)
from tickgate.protocol.f2_map import RingControl
from tickgate.protocol.registers import ID_MAGIC, MAP_VERSION, REGISTER_MAP, Control, counter_names

COUNTERS = (*counter_names()[:6], "messages", "type_A", "events")
RW = [r for r in REGISTER_MAP if r.access == "rw"]


class Manager(AxiLiteManager):
    """The AXI4-Lite manager, also noting the cycles `clear` is high."""

    def __init__(self, ctx, dut: CsrBlock, limit: int) -> None:
        self.dut = dut
        self.clear_cycles: list[int] = []
        super().__init__(ctx, dut.bus, limit, self._watch)

    def _watch(self, cycle: int) -> None:
        if self.ctx.get(self.dut.clear):
            self.clear_cycles.append(cycle)


def run(testbench, *, counters=COUNTERS, limit: int = 5000, **kwargs) -> CsrBlock:
    """Simulate `testbench(manager)` on a fresh CsrBlock, at most `limit` cycles."""
    dut = CsrBlock(counters, **kwargs)
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        await testbench(Manager(ctx, dut, limit))

    sim.add_testbench(bench)
    sim.run()
    return dut


async def _idle(m: Manager) -> None:
    await m.tick()


def config_field(m: Manager, path: str) -> Value:
    target = m.dut.cfg
    for part in path.split("."):
        target = target[part]
    return m.ctx.get(Value.cast(target))


def expected_config(values: dict[str, int]) -> dict[str, int]:
    """Each config field as the register values in `values` make it."""
    fields: dict[str, int] = {}
    for name, bits in CONFIG_BITS.items():
        for b in bits:
            part = (values.get(name, 0) >> b.reg_lo) & ((1 << b.width) - 1)
            fields[b.path] = fields.get(b.path, 0) | part << b.field_lo
    return fields


def test_map_rw_registers_fill_config_exactly():
    """Every config bit is driven by exactly one register bit."""
    covered: dict[str, set[int]] = {}
    for bits in CONFIG_BITS.values():
        for b in bits:
            taken = covered.setdefault(b.path, set())
            new = set(range(b.field_lo, b.field_lo + b.width))
            assert not taken & new, b
            taken |= new
    dut = run(_idle)
    widths = {}
    for path in covered:
        target = dut.cfg
        for part in path.split("."):
            target = target[part]
        widths[path] = len(Value.cast(target))
    assert sum(widths.values()) == len(dut.cfg.as_value())
    assert {p: len(c) for p, c in covered.items()} == widths
    assert {r.name for r in RW} == set(CONFIG_BITS)


def test_identity_and_constants():
    async def bench(m):
        assert await m.read_ok(REGISTER_MAP["id"].offset) == ID_MAGIC
        assert await m.read_ok(REGISTER_MAP["map_version"].offset) == MAP_VERSION
        for name, value in (("cap_orders", 1 << 20), ("cap_levels", 8), ("cap_symbols", 64)):
            assert await m.read_ok(REGISTER_MAP[name].offset) == value
        for locked, ended in ((0, 0), (1, 0), (0, 1), (1, 1)):
            m.ctx.set(m.dut.status.locked, locked)
            m.ctx.set(m.dut.status.ended, ended)
            assert await m.read_ok(REGISTER_MAP["status"].offset) == locked | ended << 1

    run(bench, cap_orders=1 << 20, cap_levels=8, cap_symbols=64)


def test_every_rw_register_with_strobes():
    rng = random.Random(4)

    async def bench(m):
        values: dict[str, int] = {}
        for r in RW:  # reset value
            assert await m.read_ok(r.offset) == 0
        for r in RW:
            assert await m.write(r.offset, 0xFFFF_FFFF) == OKAY
            values[r.name] = implemented(r.name)
            assert await m.read_ok(r.offset) == implemented(r.name), r.name
        for _ in range(3):
            for r in RW:
                value, strb = rng.getrandbits(32), rng.getrandbits(4)
                assert await m.write(r.offset, value, strb) == OKAY
                mask = sum(0xFF << 8 * i for i in range(4) if strb >> i & 1) & implemented(r.name)
                values[r.name] = values[r.name] & ~mask | value & mask
                if r.name == "ring_control" and strb & 1 and value & RingControl.RESET:
                    values["ring_consumer"] = 0  # the ring reset command zeroes the host's index
                assert await m.read_ok(r.offset) == values[r.name], r.name
            for path, value in expected_config(values).items():
                assert config_field(m, path) == value, path

    run(bench)


def test_config_fields_follow_the_documented_encoding():
    session, first = b"ABCDEFGHIJ", 0x0123_4567_89AB_CDEF

    async def bench(m):
        for i in range(3):
            await m.write(REGISTER_MAP[f"session_{i}"].offset, int.from_bytes(session[4 * i:4 * i + 4], "little"))
        await m.write(REGISTER_MAP["first_sequence_lo"].offset, first & 0xFFFF_FFFF)
        await m.write(REGISTER_MAP["first_sequence_hi"].offset, first >> 32)
        await m.write(REGISTER_MAP["dst_ip"].offset, 0x0A00_0001)
        await m.write(REGISTER_MAP["dst_port"].offset, 0x1_2345)  # bits above 15 are not kept
        for name in ("session_en", "first_sequence_en", "dst_ip_check", "dst_port_check", "ignore_ip_checksum"):
            await m.write(REGISTER_MAP[name].offset, 0xFFFF_FFFF)
        await m.write(REGISTER_MAP["control"].offset, 0b101)
        assert config_field(m, "session.session").to_bytes(10, "little") == session  # lane order, as on the wire
        assert config_field(m, "session.first_sequence") == first
        assert config_field(m, "net.dst_ip") == 0x0A00_0001
        assert config_field(m, "net.dst_port") == 0x2345
        assert await m.read_ok(REGISTER_MAP["dst_port"].offset) == 0x2345
        for path in ("session.session_en", "session.first_sequence_en", "net.dst_ip_check", "net.dst_port_check",
                     "net.ignore_ip_checksum", "enable", "track_all_symbols"):
            assert config_field(m, path) == 1, path
        assert m.clear_cycles == []

    run(bench)


def test_every_counter_reads_both_words():
    rng = random.Random(5)
    values = {name: rng.getrandbits(64) for name in COUNTERS}

    async def bench(m):
        for name, value in values.items():
            m.ctx.set(m.dut.counters[name], value)
        for r in REGISTER_MAP.group("counter"):
            low, low_resp = await m.read(r.offset)
            high, high_resp = await m.read(r.offset + 4)
            assert (low_resp, high_resp) == (OKAY, OKAY)
            assert high << 32 | low == values.get(r.name, 0), r.name  # counters this card lacks read 0

    run(bench, limit=20000)


def test_counter_read_is_atomic_while_it_counts():
    offset = REGISTER_MAP["messages"].offset
    other = REGISTER_MAP["type_A"].offset

    async def bench(m):
        counter = m.dut.counters["messages"]
        m.ctx.set(counter, 0x1_FFFF_FFFF)
        assert await m.read_ok(offset) == 0xFFFF_FFFF
        m.ctx.set(counter, 0x2_0000_0000)  # the low word wraps between the two reads
        assert await m.read_ok(offset + 4) == 1  # the latched half: 0x1_FFFF_FFFF as a whole
        assert await m.read_ok(offset + 4) == 1  # until another low word is read
        assert await m.read_ok(other) == 0  # another counter's low word takes the latch
        assert await m.read_ok(offset + 4) == 2  # a high word read on its own is live
        assert await m.read_ok(offset) == 0
        m.ctx.set(counter, 0x3_0000_0005)
        assert await m.read_ok(other + 4) == 0  # type_A's high word is live: not the one latched
        assert await m.read_ok(offset + 4) == 2

    run(bench)


def test_clear_pulses_one_cycle():
    control = REGISTER_MAP["control"].offset

    async def bench(m):
        await m.write(control, 0b011)
        assert m.clear_cycles and len(m.clear_cycles) == 1
        assert await m.read_ok(control) == 0b001  # bit 1 is a command, not stored
        assert config_field(m, "enable") == 1
        await m.write(control, 0b010, strb=0b0010)  # bit 1 lies in byte 0: not written
        await m.write(control, 0b000)
        assert len(m.clear_cycles) == 1
        await m.write(control, 0b110)
        await m.write(control, 0b110)
        assert len(m.clear_cycles) == 3
        assert m.clear_cycles[2] - m.clear_cycles[1] > 1  # two pulses, not one long one
        assert await m.read_ok(control) == 0b100

    run(bench)


def test_ring_registers_reset_command_and_gauge():
    """The F2 ring: page and line addresses, the reset pulse that zeroes ring_consumer, the producer gauge."""
    reg = {name: REGISTER_MAP[name].offset for name in (
        "ring_base_lo", "ring_base_hi", "ring_head_lo", "ring_head_hi", "ring_size_log2", "ring_control",
        "ring_consumer", "ring_producer", "ring_full", "pcim_errors")}
    resets: list[int] = []

    async def bench(m):
        await m.write(reg["ring_base_lo"], 0x1234_5FFF)  # bits 0-11 are not kept: the ring is page aligned
        await m.write(reg["ring_base_hi"], 0x0000_00AB)
        await m.write(reg["ring_head_lo"], 0x8765_437F)  # bits 0-5 are not kept: the head is a line
        await m.write(reg["ring_head_hi"], 0x0000_00CD)
        await m.write(reg["ring_size_log2"], 0xFFFF_FF0A)
        await m.write(reg["ring_consumer"], 77)
        assert await m.read_ok(reg["ring_base_lo"]) == 0x1234_5000
        assert await m.read_ok(reg["ring_head_lo"]) == 0x8765_4340
        assert await m.read_ok(reg["ring_size_log2"]) == 0x0A
        assert config_field(m, "ring.base_page") == 0xAB_1234_5000 >> 12
        assert config_field(m, "ring.head_line") == 0xCD_8765_4340 >> 6
        assert config_field(m, "ring.consumer") == 77
        await m.write(reg["ring_control"], 0b01)
        assert resets == [] and config_field(m, "ring.enable") == 1
        await m.write(reg["ring_control"], 0b11)
        assert len(resets) == 1
        assert await m.read_ok(reg["ring_control"]) == 0b01  # bit 1 is a command, not stored
        assert await m.read_ok(reg["ring_consumer"]) == 0  # the reset zeroes the host's index too
        m.ctx.set(m.dut.gauges.ring_producer, 0xFEDC_BA98)
        assert await m.read_ok(reg["ring_producer"]) == 0xFEDC_BA98
        assert await m.write(reg["ring_producer"], 1) == SLVERR
        for name, value in (("ring_full", 5), ("pcim_errors", 1 << 33)):
            m.ctx.set(m.dut.counters[name], value)
            assert await m.read_ok(reg[name]) | await m.read_ok(reg[name] + 4) << 32 == value

    dut = CsrBlock((*COUNTERS, "ring_full", "pcim_errors"), ring=True)
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def top(ctx):
        manager = AxiLiteManager(ctx, dut.bus, 5000, lambda cycle: resets.append(cycle)
                                 if ctx.get(dut.ring_reset) else None)
        manager.dut = dut
        await bench(manager)

    sim.add_testbench(top)
    sim.run()


def test_unmapped_unaligned_and_read_only_accesses():
    async def bench(m):
        mapped = {r.offset + 4 * i for r in REGISTER_MAP for i in range(r.size // 4)}
        holes = [a for a in range(0, REGISTER_MAP.size, 4) if a not in mapped]
        for addr in [holes[0], holes[len(holes) // 2], holes[-1], 1 << ADDR_WIDTH, 0x3FFF_FFFC]:
            assert await m.read(addr) == (0, SLVERR), hex(addr)
            assert await m.write(addr, 0xFFFF_FFFF) == SLVERR, hex(addr)
        dst_ip = REGISTER_MAP["dst_ip"].offset
        for addr in (dst_ip + 1, dst_ip + 2, dst_ip + 3):
            assert await m.read(addr) == (0, SLVERR)
            assert await m.write(addr, 0xFFFF_FFFF) == SLVERR
        assert await m.read_ok(dst_ip) == 0
        for name in ("id", "map_version", "status", "cap_orders", "messages"):
            assert await m.write(REGISTER_MAP[name].offset, 0x1234_5678) == SLVERR
        assert await m.read_ok(REGISTER_MAP["id"].offset) == ID_MAGIC
        assert await m.read_ok(REGISTER_MAP["map_version"].offset) == MAP_VERSION
        for r in RW:
            assert await m.read_ok(r.offset) == 0, r.name

    run(bench, addr_width=30)


@pytest.mark.parametrize("order", ["together", "aw", "w"])
@pytest.mark.parametrize("gap", [0, 3])
def test_address_and_data_in_either_order(order, gap):
    dst_ip = REGISTER_MAP["dst_ip"].offset

    async def bench(m):
        for i in range(3):
            value = 0x0A00_0001 + i
            assert await m.write(dst_ip, value, order=order, gap=gap) == OKAY
            assert await m.read_ok(dst_ip) == value
        value, resp = await m.read(dst_ip, delay=4)  # a slow RREADY: data held
        assert (value, resp) == (0x0A00_0003, OKAY)

    run(bench)


def test_back_to_back_with_valid_held():
    """Writes and reads offered every cycle, with random BREADY/RREADY: every response in order and right."""
    rng = random.Random(6)
    regs = [r for r in RW if implemented(r.name) == 0xFFFF_FFFF]
    writes = [(rng.choice(regs), rng.getrandbits(32)) for _ in range(40)]
    final = {r.name: v for r, v in writes}
    reads = [REGISTER_MAP["id"].offset, 0x0FFC, *(r.offset for r in regs)]
    limit = 600

    async def bench(m):
        ctx, bus = m.ctx, m.bus
        aws, ws, bresps = list(writes), list(writes), []
        while len(bresps) < len(writes):  # AW leads W by a few beats, both valid whenever they have one
            if aws:
                ctx.set(bus.awaddr, aws[0][0].offset)
            ctx.set(bus.awvalid, bool(aws))
            w_on = bool(ws) and len(ws) - len(aws) < 3
            if w_on:
                ctx.set(bus.wdata, ws[0][1])
                ctx.set(bus.wstrb, 0xF)
            ctx.set(bus.wvalid, w_on)
            ctx.set(bus.bready, rng.random() < 0.7)
            aw_taken, w_taken = ctx.get(bus.awvalid & bus.awready), ctx.get(bus.wvalid & bus.wready)
            b_taken, bresp = ctx.get(bus.bvalid & bus.bready), ctx.get(bus.bresp)
            await m.tick()
            aws, ws = aws[aw_taken:], ws[w_taken:]
            if b_taken:
                bresps.append(bresp)
        ctx.set(bus.awvalid, 0)
        ctx.set(bus.wvalid, 0)
        ctx.set(bus.bready, 0)
        assert bresps == [OKAY] * len(writes)
        ars, rs = list(reads), []
        while len(rs) < len(reads):
            if ars:
                ctx.set(bus.araddr, ars[0])
            ctx.set(bus.arvalid, bool(ars))
            ctx.set(bus.rready, rng.random() < 0.7)
            ar_taken, r_taken = ctx.get(bus.arvalid & bus.arready), ctx.get(bus.rvalid & bus.rready)
            r = (ctx.get(bus.rdata), ctx.get(bus.rresp))
            await m.tick()
            ars = ars[ar_taken:]
            if r_taken:
                rs.append(r)
        expected = [(ID_MAGIC, OKAY), (0, SLVERR), *((final.get(r.name, 0), OKAY) for r in regs)]
        assert rs == expected

    run(bench, limit=limit)


def test_signature_and_validation():
    assert AxiLiteSignature(12) == AxiLiteSignature(12) != AxiLiteSignature(13)
    dut = run(_idle)
    assert dut.signature.members["bus"].signature == AxiLiteSignature(ADDR_WIDTH).flip()
    assert ADDR_WIDTH == 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)  # the refused component is never elaborated
        for bad in (("nonsense",), ("messages", "messages"), ()):
            with pytest.raises(ValueError, match="counter"):
                CsrBlock(bad)
        with pytest.raises(ValueError, match="address width"):
            CsrBlock(COUNTERS, addr_width=ADDR_WIDTH - 1)
        with pytest.raises(ValueError, match="cap_orders"):
            CsrBlock(COUNTERS, cap_orders=1 << 32)
        gc.collect()


def test_rule_registers_write_command_and_gauge():
    """The rule table's registers: staged whole into `cfg.rule`, `rule_write` a one-cycle pulse (bit 0: arm)
    that reads 0, `cap_rules` the constructor's, `rule_left` a gauge."""
    reg = {r.name: r.offset for r in REGISTER_MAP if r.name.startswith(("rule_", "cap_rules"))}
    pulses: list[tuple[int, int]] = []

    async def bench(m):
        for n, name in enumerate(("rule_index", "rule_locate", "rule_kind", "rule_threshold", "rule_shares",
                                  "rule_price", "rule_tag", "rule_fires")):
            await m.write(reg[name], 0xF000_0000 | n)
            assert await m.read_ok(reg[name]) == 0xF000_0000 | n
            assert config_field(m, f"rule.{name.removeprefix('rule_')}") == 0xF000_0000 | n
        await m.write(reg["rule_write"], 1)
        await m.write(reg["rule_write"], 0)
        assert [arm for _cycle, arm in pulses] == [1, 0] and pulses[1][0] - pulses[0][0] > 1
        assert await m.read_ok(reg["rule_write"]) == 0
        assert await m.read_ok(reg["cap_rules"]) == 48
        m.ctx.set(m.dut.gauges.rule_left, 17)
        assert await m.read_ok(reg["rule_left"]) == 17
        assert await m.write(reg["rule_left"], 1) == SLVERR

    dut = CsrBlock(COUNTERS, cap_rules=48)
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def top(ctx):
        manager = AxiLiteManager(ctx, dut.bus, 5000, lambda cycle: pulses.append((cycle, ctx.get(dut.rule_write.arm)))
                                 if ctx.get(dut.rule_write.valid) else None)
        manager.dut = dut
        await bench(manager)

    sim.add_testbench(top)
    sim.run()


def test_csr_block_stores_exactly_the_stored_fields():
    for name, bits in CONFIG_BITS.items():
        stored = sum(f.mask for f in REGISTER_MAP[name].fields if f.access == "rw")
        assert implemented(name) == stored, name
        assert len(bits) == sum(f.access == "rw" for f in REGISTER_MAP[name].fields)
    assert 1 << CLEAR_BIT == Control.CLEAR_COUNTERS and 1 << RING_RESET_BIT == RingControl.RESET
