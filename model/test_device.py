"""`ModelDevice`: the reference model's DMA framing and registers (the rest: driver/test_interface.py, with
every other device)."""

from __future__ import annotations

import numpy as np
import pytest

from tickgate.model.card import ReferenceCard
from tickgate.model.device import DeviceClosed, ModelDevice, RegisterRefused, dma_records
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import CardConfig, OrderTableConfig
from tickgate.protocol.events import EVENT_DTYPE
from tickgate.protocol.registers import REGISTER_MAP

PACKETS = [(b"x" * n, 1_000 + n) for n in (0, 1, 7, 8, 9, 20, 300)]


def test_dma_records_undo_pack_dma() -> None:
    assert [(bytes(p), rx) for p, rx, _flags in dma_records(mold.pack_dma(PACKETS))] == PACKETS


@pytest.mark.parametrize(("cut", "message"), [(30, "ends inside a header"), (20, "runs past the batch end")])
def test_broken_framing_is_refused_before_any_packet_is_used(cut: int, message: str) -> None:
    batch = mold.pack_dma([(mold.heartbeat("S", 1), 5), (mold.heartbeat("S", 1), 6)])
    dev = ModelDevice()
    with pytest.raises(ValueError, match=message):
        dev.submit(batch[:-cut])
    assert dev.counters()["packets"] == 0


def test_a_packet_at_a_time_is_a_batch_of_one() -> None:
    payload = mold.build("S", 1, [b"S" + bytes(11)])
    a, b = ModelDevice(), ModelDevice()
    assert a.submit_packet(payload, 9) == len(mold.pack_dma([(payload, 9)])) == b.submit(mold.pack_dma([(payload, 9)]))
    assert a.counters() == b.counters()


def test_events_as_the_reference_card_emits_them() -> None:
    payloads = [mold.build("S", 1 + i, [b"S" + bytes(11)]) for i in range(3)]
    card, dev = ReferenceCard(), ModelDevice()
    for p in payloads:
        card.feed(p, 4)
    dev.submit(mold.pack_dma([(p, 4) for p in payloads]))
    out = np.zeros(8, dtype=EVENT_DTYPE)
    n = dev.collect(out.view("V64")[:2])
    n += dev.collect(out[n:])
    assert out[:n].tobytes() == card.take_events().tobytes()


def test_registers() -> None:
    table = OrderTableConfig(bucket_bits=4, ways=2, stash=3)
    dev = ModelDevice(CardConfig(order_table=table, max_levels=5))
    read = dev.read_register
    assert read(REGISTER_MAP["cap_orders"].offset) == table.capacity
    assert (read(REGISTER_MAP["cap_levels"].offset), read(REGISTER_MAP["cap_symbols"].offset)) == (5, 0)
    with pytest.raises(RegisterRefused, match="id is read-only"):
        dev.write_register(REGISTER_MAP["id"].offset, 1)
    with pytest.raises(RegisterRefused, match="at run time"):
        dev.write_register(REGISTER_MAP["symbol_index"].offset, 1)
    with pytest.raises(RegisterRefused, match="no register at offset 0x2"):
        read(2)
    dev.close()
    with pytest.raises(DeviceClosed):
        dev.submit(b"")
