"""ITCH classification and field extraction: a framed message in, a `DecodedRecord` out.

Everything here is generated from `protocol.itch_spec` (type bytes, lengths, field offsets) and
`protocol.decoded.SOURCES` (which ITCH field fills which record field); nothing is typed by hand.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.decoded import DECODED_FIELDS, DECODED_TYPES, SOURCES
from tickgate.protocol.itch_spec import BY_TYPE, MESSAGES, Field
from tickgate.protocol.moldudp64 import BLOCK_LEN, HEADER

from .layouts import ITCH_LAYOUTS, DecodedRecord

__all__ = ["KEPT_BYTES", "ClassifiedMessage", "FramedMessage", "MessageClassifier", "MessageCounts",
           "RecordExtractor", "big_endian"]

#: Bytes of each message the decoder keeps: enough for the longest type it decodes.
KEPT_BYTES = max(BY_TYPE[t].length for t in DECODED_TYPES)

#: A message as the framer hands it on: its first `KEPT_BYTES` bytes (byte 0 in bits 0-7), its
#: length from the block prefix, its MoldUDP64 sequence number, and whether it was seen already
#: (the head of a partly repeated packet).
FramedMessage = data.StructLayout({
    "data": 8 * KEPT_BYTES,
    "length": 8 * BLOCK_LEN,
    "seq": 8 * {f.name: f.width for f in HEADER}["sequence_number"],
    "duplicate": 1,
})

#: A framed message with its pre-decode: `ok` bit k says it is of type `MESSAGES[k]` with that type's length,
#: `known` that its type byte is one of `MESSAGES`, `empty` that its length is 0 (the decoder registers this
#: between the framer and the extractor, so neither the compares nor the field selects are one long path).
ClassifiedMessage = data.StructLayout({
    "message": FramedMessage,
    "ok": len(MESSAGES),
    "known": 1,
    "empty": 1,
})

#: What one framed message adds to the counters (`protocol.registers` names).
MessageCounts = data.StructLayout({
    "messages": 1,
    "messages_duplicate": 1,
    "msg_bad_length": 1,
    "msg_unknown_type": 1,
    **{f"type_{m.type}": 1 for m in MESSAGES},
})

# Record fields every ITCH type fills from its common header (as `decoded.decode_record` does).
_HEADER_SOURCES = {"locate": "stock_locate", "timestamp": "timestamp"}


def big_endian(value: Value) -> Value:
    """The number held by big-endian wire bytes (byte 0 of the field in bits 0-7)."""
    return Cat(*(value[i:i + 8] for i in reversed(range(0, len(value), 8))))


def _number(raw: Value, field: Field) -> Value:
    """A field's record value: integers byte-swapped, alpha bytes kept in wire order."""
    return raw if field.kind == "alpha" else big_endian(raw)


class MessageClassifier(wiring.Component):
    """The pre-decode of a framed message (combinational): its type and length against every type's."""

    message: In(FramedMessage)
    classified: Out(ClassifiedMessage)

    def elaborate(self, platform) -> Module:
        m = Module()
        msg = self.message
        type_byte = msg.data[:8]
        hit = [type_byte == t.type_byte for t in MESSAGES]
        m.d.comb += [
            self.classified.message.eq(msg),
            self.classified.ok.eq(Cat(*(h & (msg.length == t.length) for h, t in zip(hit, MESSAGES, strict=True)))),
            self.classified.known.eq(Cat(*hit).any()),
            self.classified.empty.eq(msg.length == 0),
        ]
        return m


class RecordExtractor(wiring.Component):
    """Fills a classified message's record (combinational).

    `emit` says the message is new, well-formed and of a `DECODED_TYPES` type; `counts` is what it adds
    to the counters when it is taken (a duplicate, or a message that is of an unknown type, of a wrong
    length, or one `type_X`).
    """

    message: In(ClassifiedMessage)
    record: Out(DecodedRecord)
    emit: Out(1)
    counts: Out(MessageCounts)

    def elaborate(self, platform) -> Module:
        m = Module()
        msg = self.message.message
        type_byte = msg.data[:8]
        ok = {t.type: self.message.ok[k] for k, t in enumerate(MESSAGES)}
        known = self.message.known
        well_formed = self.message.ok.any()

        new = ~msg.duplicate
        m.d.comb += [
            self.counts.messages.eq(new),
            self.counts.messages_duplicate.eq(msg.duplicate),
            self.counts.msg_unknown_type.eq(new & ~self.message.empty & ~known),
            self.counts.msg_bad_length.eq(new & (self.message.empty | (known & ~well_formed))),
            self.emit.eq(new & Cat(*(ok[t] for t in DECODED_TYPES)).any()),
        ]
        for t in MESSAGES:
            m.d.comb += self.counts[f"type_{t.type}"].eq(new & ok[t.type])

        m.d.comb += [
            self.record.type.eq(type_byte),
            self.record.seq.eq(msg.seq),
        ]
        for name, value in self._fields(msg.data, ok).items():
            m.d.comb += self.record[name].eq(value)
        return m

    @staticmethod
    def _fields(buf: Value, ok: dict[str, Value]) -> dict[str, Value]:
        """Each record field as an AND-OR over the types that fill it, one term per distinct wire slice."""
        sources: dict[str, dict[str, str]] = {
            t: {**_HEADER_SOURCES, **SOURCES[t]} for t in DECODED_TYPES}
        out: dict[str, Value] = {}
        for dst in (f.name for f in DECODED_FIELDS):
            groups: dict[Field, list[str]] = {}  # same offset, width and kind -> the same wire bytes
            for t in DECODED_TYPES:
                if dst in sources[t]:
                    f = BY_TYPE[t].field(sources[t][dst])
                    groups.setdefault(Field("", f.offset, f.width, f.kind), []).append(t)
            if not groups:
                continue
            terms = []
            for key, types in groups.items():
                t = types[0]
                view = ITCH_LAYOUTS[t](buf[:8 * BY_TYPE[t].length])
                value = _number(Value.cast(view[sources[t][dst]]), key)
                if len(groups) == 1 and len(types) == len(DECODED_TYPES):
                    terms.append(value)  # every decoded type fills it from the same bytes
                else:
                    sel = Cat(*(ok[x] for x in types)).any()
                    terms.append(Mux(sel, value, 0))
            acc: Value = Const(0, 1)
            for term in terms:
                acc = acc | term
            out[dst] = acc
        return out
