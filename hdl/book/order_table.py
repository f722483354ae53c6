"""The order table: order reference -> (book slot, side, price, shares), exact, in on-chip memory.

Two banks of `2**bucket_bits` buckets of `ways` entries (one wide row per bucket, written a way at a
time) and a `stash` of registers, placed as `protocol.order_hash` says (2-left hashing on CRC-32C): the
reference model's `model.order_table.OrderTable`, entry for entry. An entry is live when its `epoch` is the
table's current one, so a reset empties the table without touching the memory (`epoch` comes from the
book engine, which clears the memory for real only when the epoch wraps).

Use: `lookup` a reference (the bucket rows are read), and from the next cycle until the next lookup or
commit, `hit`/`entry` say whether and what it is. Then at most one `commit` per lookup: `remove` frees the
hit entry, `update` rewrites its fields, `insert` places `new` for the looked-up reference (counting an
entry removed in the same commit as free). `placed` reports where an insert went.
"""

from amaranth.hdl import Cat, Const, Module, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tickgate.protocol.config import OrderTableConfig
from tickgate.protocol.order_hash import crc32c_u64

__all__ = ["OrderTable", "crc32c_u64_network", "order_data"]

EPOCH_BITS = 8


def order_data(slot_bits: int) -> data.StructLayout:
    """What the table keeps of an order."""
    return data.StructLayout({"slot": slot_bits, "is_bid": 1, "price": 32, "shares": 32})



def _entry(slot_bits: int) -> data.StructLayout:
    return data.StructLayout({"epoch": EPOCH_BITS, "ref": 64, "order": order_data(slot_bits)})


def crc32c_u64_network(ref: Value) -> Value:
    """CRC-32C of a 64-bit reference's big-endian bytes as an XOR network (the function is affine)."""
    base = crc32c_u64(0)
    columns = [crc32c_u64(1 << i) ^ base for i in range(64)]
    bits = []
    for j in range(32):
        taps = [ref[i] for i in range(64) if columns[i] >> j & 1]
        bit = taps[0]
        for t in taps[1:]:
            bit = bit ^ t
        bits.append(bit ^ (base >> j & 1))
    return Cat(*bits)


class OrderTable(wiring.Component):
    """See the module docstring. `slot_bits` is the width of a book slot number."""

    def __init__(self, config: OrderTableConfig, slot_bits: int) -> None:
        if not isinstance(config, OrderTableConfig):
            raise TypeError(f"config must be an OrderTableConfig, not {config!r}")
        self.config = config
        self.slot_bits = slot_bits
        od = order_data(slot_bits)
        super().__init__({
            "epoch": In(EPOCH_BITS),
            "lookup": In(1), "lookup_ref": In(64),
            "hit": Out(1), "entry": Out(od),
            "commit": In(1), "remove": In(1), "update": In(1), "insert": In(1), "new": In(od),
            "placed": Out(data.StructLayout({"valid": 1, "right": 1, "stash": 1, "failed": 1})),
            "live": Out(32),
            "clear": In(1), "clear_busy": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        w, depth, n_stash = cfg.ways, 1 << cfg.bucket_bits, cfg.stash
        entry = _entry(self.slot_bits)
        row = data.ArrayLayout(entry, w)
        banks = []
        for b in range(2):
            mem = Memory(shape=row, depth=depth, init=[])
            m.submodules[f"bank{b}"] = mem
            banks.append((mem.read_port(), mem.write_port(granularity=1)))
        stash = Signal(data.ArrayLayout(entry, max(n_stash, 1)))

        ref = Signal(64)
        bucket = [Signal(cfg.bucket_bits, name=f"bucket{b}") for b in range(2)]
        crc = crc32c_u64_network(self.lookup_ref)
        with m.If(self.lookup):
            m.d.sync += [ref.eq(self.lookup_ref), bucket[0].eq(crc[:cfg.bucket_bits]),
                         bucket[1].eq(crc[16:16 + cfg.bucket_bits])]
        for b, (rd, _wr) in enumerate(banks):
            m.d.comb += [rd.addr.eq((crc[:cfg.bucket_bits], crc[16:16 + cfg.bucket_bits])[b]), rd.en.eq(self.lookup)]

        def live(e):
            return e.epoch == self.epoch

        # Hit: at most one live entry holds a reference.
        rows = [rd.data for rd, _ in banks]
        hit_way = [Cat(*(live(rows[b][i]) & (rows[b][i].ref == ref) for i in range(w))) for b in range(2)]
        hit_stash = Cat(*(live(stash[i]) & (stash[i].ref == ref) for i in range(n_stash))) if n_stash else Const(0, 1)
        m.d.comb += self.hit.eq(hit_way[0].any() | hit_way[1].any() | hit_stash.any())
        for b in range(2):
            for i in range(w):
                with m.If(hit_way[b][i]):
                    m.d.comb += self.entry.eq(rows[b][i].order)
        for i in range(n_stash):
            with m.If(hit_stash[i]):
                m.d.comb += self.entry.eq(stash[i].order)

        # Free places, counting the hit entry as free when this commit removes it.
        freeing = self.remove & self.hit
        free = [Cat(*(~live(rows[b][i]) | (freeing & hit_way[b][i]) for i in range(w))) for b in range(2)]
        free_stash = Cat(*(~live(stash[i]) | (freeing & hit_stash[i]) for i in range(n_stash))) if n_stash \
            else Const(0, 1)
        counts = [Signal(range(w + 1), name=f"free{b}") for b in range(2)]
        m.d.comb += [counts[b].eq(sum(free[b][i] for i in range(w))) for b in range(2)]
        right = counts[1] > counts[0]
        use_bank = Signal(2)  # one-hot: left, right
        use_stash = Signal()
        m.d.comb += [
            use_bank[1].eq(right),
            use_bank[0].eq(~right & (counts[0] != 0)),
            use_stash.eq((counts[0] == 0) & (counts[1] == 0) & free_stash.any()),
        ]

        def lowest(bits, n):
            onehot = Signal(n)
            for i in reversed(range(n)):
                with m.If(bits[i]):
                    m.d.comb += onehot.eq(1 << i)
            return onehot

        ins_way = [lowest(free[b], w) for b in range(2)]
        ins_stash = lowest(free_stash, max(n_stash, 1)) if n_stash else Const(0, 1)
        inserting = self.commit & self.insert
        new_entry = Signal(entry)
        m.d.comb += [new_entry.epoch.eq(self.epoch), new_entry.ref.eq(ref), new_entry.order.eq(self.new)]
        updated = Signal(entry)
        m.d.comb += [updated.epoch.eq(self.epoch), updated.ref.eq(ref), updated.order.eq(self.new)]

        for b, (_rd, wr) in enumerate(banks):
            m.d.comb += wr.addr.eq(bucket[b])
            for i in range(w):
                put = inserting & use_bank[b] & ins_way[b][i]
                drop = self.commit & freeing & hit_way[b][i]
                change = self.commit & self.update & hit_way[b][i]
                with m.If(put):
                    m.d.comb += [wr.en[i].eq(1), wr.data[i].eq(new_entry)]
                with m.Elif(change):
                    m.d.comb += [wr.en[i].eq(1), wr.data[i].eq(updated)]
                with m.Elif(drop):
                    m.d.comb += [wr.en[i].eq(1), wr.data[i].eq(0)]
        for i in range(n_stash):
            with m.If(inserting & use_stash & ins_stash[i]):
                m.d.sync += stash[i].eq(new_entry)
            with m.Elif(self.commit & self.update & hit_stash[i]):
                m.d.sync += stash[i].eq(updated)
            with m.Elif(self.commit & freeing & hit_stash[i]):
                m.d.sync += stash[i].eq(0)

        placed_any = use_bank.any() | use_stash
        m.d.comb += [
            self.placed.valid.eq(inserting),
            self.placed.right.eq(inserting & use_bank[1]),
            self.placed.stash.eq(inserting & use_stash),
            self.placed.failed.eq(inserting & ~placed_any),
        ]
        grows, shrinks = inserting & placed_any, self.commit & freeing
        with m.If(grows & ~shrinks):
            m.d.sync += self.live.eq(self.live + 1)
        with m.Elif(shrinks & ~grows):
            m.d.sync += self.live.eq(self.live - 1)

        # Clearing: zero every row, one per cycle per bank, when asked (the epoch wrapped).
        clear_row = Signal(cfg.bucket_bits)
        with m.If(self.clear_busy):
            for _rd, wr in banks:
                m.d.comb += [wr.addr.eq(clear_row), wr.en.eq((1 << w) - 1), wr.data.eq(0)]
            m.d.sync += clear_row.eq(clear_row + 1)
            with m.If(clear_row == depth - 1):
                m.d.sync += self.clear_busy.eq(0)
        with m.Elif(self.clear):
            m.d.sync += [self.clear_busy.eq(1), clear_row.eq(0)]
        return m
