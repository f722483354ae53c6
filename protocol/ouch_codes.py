"""OUCH 5.0 code tables: Rejected reasons, Order Canceled reasons, optional-appendage tags."""

from __future__ import annotations

__all__ = ["CANCEL_REASONS", "OPTIONS", "REJECT_REASONS", "reject_reason_text"]

# Rejected `reason` codes (OUCH 5.0, Appendix: Reject Reasons).
REJECT_REASONS: dict[int, str] = {
    0x01: "Quote Unavailable", 0x02: "Destination Closed", 0x03: "Invalid Display", 0x04: "Invalid Max Floor",
    0x05: "Invalid Peg Type", 0x06: "Fat Finger", 0x07: "Halted", 0x08: "ISO Not Allowed", 0x09: "Invalid Side",
    0x0A: "Processing Error", 0x0B: "Cancel Pending", 0x0C: "Firm Not Authorized", 0x0D: "Invalid Min Quantity",
    0x0E: "No Closing Reference Price", 0x0F: "Other", 0x10: "Cancel Not Allowed", 0x11: "Pegging Not Allowed",
    0x12: "Crossed Market", 0x13: "Invalid Quantity", 0x14: "Invalid Cross Order", 0x15: "Replace Not Allowed",
    0x16: "Routing Not Allowed", 0x17: "Invalid Symbol", 0x18: "Test", 0x19: "Late LOC Too Aggressive",
    0x1A: "Retail Not Allowed", 0x1B: "Invalid Midpoint Post Only Price", 0x1C: "Invalid Destination",
    0x1D: "Invalid Price", 0x1E: "Shares Exceed Threshold", 0x1F: "Exceeds Maximum Allowed Notional Value",
    0x20: "Risk: Aggregate Exposure Exceeded", 0x21: "Risk: Market Impact", 0x22: "Risk: Restricted Stock",
    0x23: "Risk: Short Sell Restricted", 0x24: "Risk: ISO Not Allowed", 0x25: "Risk: Exceeds ADV Limit",
    0x26: "Risk: Fat Finger", 0x27: "Risk: Locate Required", 0x28: "Risk: Symbol Message Rate Restriction",
    0x29: "Risk: Port Message Rate Restriction", 0x2A: "Risk: Duplicate Message Rate Restriction",
    0x2B: "Risk: Short Sell Not Allowed", 0x2C: "Risk: Market Order Not Allowed",
    0x2D: "Risk: Pre-Market Not Allowed", 0x2E: "Risk: Post-Market Not Allowed",
    0x2F: "Risk: Short Sell Exempt Not Allowed", 0x30: "Risk: Single Order Notional Exceeded",
    0x31: "Risk: Max Quantity Exceeded", 0x32: "Reg SHO State Not Available",
    0x33: "Risk: IPO Market Buy Not Allowed", 0x40: "Invalid AIQ",
}
# Order Canceled `reason` codes.
CANCEL_REASONS: dict[str, str] = {
    "D": "Regulatory Restriction", "E": "Closed", "F": "Post Only: price slid for NMS",
    "G": "Post Only: contra side displayed order", "H": "Halted", "I": "Immediate or Cancel", "K": "Market Collars",
    "Q": "Self Match Prevention", "S": "Supervisory", "T": "Timeout", "U": "User Requested", "X": "Open Protection",
    "Z": "System Cancel", "e": "Direct Listing Capital Raise exceeds shares offered",
}
# Optional appendage tags: tag -> (name, value width, kind).
OPTIONS: dict[int, tuple[str, int, str]] = {
    1: ("secondary_ord_ref_num", 8, "uint"), 2: ("firm", 4, "alpha"), 3: ("min_qty", 4, "uint"),
    4: ("customer_type", 1, "alpha"), 5: ("max_floor", 4, "uint"), 6: ("price_type", 1, "alpha"),
    7: ("peg_offset", 4, "int"), 9: ("discretion_price", 8, "price"), 10: ("discretion_price_type", 1, "alpha"),
    11: ("discretion_peg_offset", 4, "int"), 12: ("post_only", 1, "alpha"), 13: ("random_reserves", 4, "uint"),
    14: ("route", 4, "alpha"), 15: ("expire_time", 4, "uint"), 16: ("trade_now", 1, "alpha"),
    17: ("handle_inst", 1, "alpha"), 18: ("bbo_weight_indicator", 1, "alpha"), 22: ("display_quantity", 4, "uint"),
    23: ("display_price", 8, "price"), 24: ("group_id", 2, "uint"), 25: ("shares_located", 1, "alpha"),
    26: ("locate_broker", 4, "alpha"), 27: ("side", 1, "alpha"), 28: ("user_ref_idx", 1, "uint"),
}


def reject_reason_text(code: int) -> str:
    """The spec's name of a Rejected reason code, with the code: 'Invalid Symbol (0x0017)'."""
    return f"{REJECT_REASONS.get(code, 'Unknown reason')} (0x{code:04X})"
