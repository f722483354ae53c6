"""Where an order reference may live in the card's order table: the hash both the gateware and the model use.

The table is two banks of `2**bucket_bits` buckets of `ways` entries, and a small fully associative stash
(2-left hashing). An order reference has one candidate bucket in each bank, from the two halves of the
CRC-32C of its 8 bytes (big-endian, as on the wire): an XOR network in hardware, no multipliers, and one
read port per bank. Insertion takes the lowest free way of the candidate with more free ways (the left on
a tie: both are read anyway, to look the reference up), else the lowest free stash entry, else it fails.
Nothing is ever moved once placed, so every operation has a fixed latency in hardware.
"""

from __future__ import annotations

__all__ = ["MAX_BUCKET_BITS", "buckets", "crc32c_u64"]

MAX_BUCKET_BITS = 16
_POLY = 0x82F63B78  # CRC-32C (Castagnoli), reflected


def _table() -> list[int]:
    out = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ (_POLY if c & 1 else 0)
        out.append(c)
    return out


_TABLE = _table()


def crc32c_u64(ref: int) -> int:
    """CRC-32C of a 64-bit order reference's 8 big-endian bytes (initial value and final XOR 0xFFFFFFFF)."""
    crc = 0xFFFFFFFF
    for byte in ref.to_bytes(8, "big"):
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def buckets(ref: int, bucket_bits: int) -> tuple[int, int]:
    """The candidate buckets of `ref` in the left and right banks of `2**bucket_bits` buckets each."""
    if not 1 <= bucket_bits <= MAX_BUCKET_BITS:
        raise ValueError(f"bucket_bits must be 1 to {MAX_BUCKET_BITS}, not {bucket_bits}")
    h = crc32c_u64(ref)
    mask = (1 << bucket_bits) - 1
    return h & mask, (h >> 16) & mask
