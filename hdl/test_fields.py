"""MessageClassifier and RecordExtractor: classification and every record field of every type, against
`decode_record`."""

import random

from amaranth.hdl import Module
from amaranth.sim import Simulator

from tickgate.protocol import itch
from tickgate.protocol.decoded import DECODED_TYPES, decode_record
from tickgate.protocol.itch_spec import MESSAGES
from tickgate.sim.simulate import random_message

from .fields import KEPT_BYTES, MessageClassifier, MessageCounts, RecordExtractor


def _evaluate(cases: list[tuple[bytes, int, bool]]) -> list[tuple[bool, dict[str, int], dict[str, int]]]:
    """(emit, counts, record) for each (message bytes, length, duplicate), with `seq` = case index."""
    m = Module()
    m.submodules.classify = classify = MessageClassifier()
    m.submodules.dut = dut = RecordExtractor()
    m.d.comb += dut.message.eq(classify.classified)
    msg = classify.message
    out = []

    async def bench(ctx) -> None:
        for seq, (body, length, duplicate) in enumerate(cases):
            ctx.set(msg.data, int.from_bytes(body[:KEPT_BYTES].ljust(KEPT_BYTES, b"\xa5"), "little"))
            ctx.set(msg.length, length)
            ctx.set(msg.seq, seq)
            ctx.set(msg.duplicate, duplicate)
            counts = {name: ctx.get(dut.counts[name]) for name in MessageCounts.members}
            record = {name: ctx.get(dut.record[name]) for name in dut.record.shape().members}
            out.append((bool(ctx.get(dut.emit)), counts, record))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return out


def test_every_type_decodes_as_the_reference():
    rng = random.Random(1)
    bodies = [random_message(rng, m.type) for m in MESSAGES for _ in range(4)]
    for n, (body, (emit, counts, record)) in enumerate(
            zip(bodies, _evaluate([(b, len(b), False) for b in bodies]), strict=True)):
        t = chr(body[0])
        assert counts[f"type_{t}"] == 1 and counts["messages"] == 1
        assert sum(counts.values()) == 2, counts  # `messages` and its type, nothing else
        assert emit == (t in DECODED_TYPES)
        if emit:
            want = decode_record(itch.decode(body), n)
            assert record == want, {k: (record[k], want[k]) for k in want if record[k] != want[k]}


def test_bad_lengths_unknown_types_and_duplicates():
    rng = random.Random(2)
    cases = [(b"", 0, False)]  # empty: a bad length
    cases += [(random_message(rng, m.type), m.length + d, False) for m in MESSAGES for d in (-1, 1, 200)]
    cases += [(bytes([c]) + rng.randbytes(30), 31, False) for c in (0, ord("!"), ord("Z"), ord("a"), 255)]
    cases += [(random_message(rng, "A"), 36, True)]  # a duplicate only counts as one
    results = _evaluate(cases)
    for (body, length, duplicate), (emit, counts, _) in zip(cases, results, strict=True):
        assert not emit
        if duplicate:
            want = "messages_duplicate"
        elif length and body[0] not in {m.type_byte for m in MESSAGES}:
            want = "msg_unknown_type"
        else:
            want = "msg_bad_length"
        assert counts[want] == 1 and sum(counts.values()) == 1 + (not duplicate), (body[:1], length, counts)
