"""Nasdaq TotalView-ITCH 5.0: every message type, defined once.

This table is the single source of ITCH layouts in tickgate. The Python codecs and numpy dtypes
(`tickgate.protocol.itch`), the C++ header (`tickgate.protocol.codegen_cpp`) and the Amaranth struct
layouts of the decoder are all generated from it. Source: `shared/specs/NQTVITCHspecification.txt`
(revision of April 28, 2023).

Field kinds:
  ``uint``    big-endian unsigned integer (1, 2, 4 or 8 bytes)
  ``ts``      6-byte big-endian nanoseconds since midnight
  ``price4``  Price(4): 4-byte unsigned, 4 implied decimals
  ``price8``  Price(8): 8-byte unsigned, 8 implied decimals (only in ``V``)
  ``alpha``   ASCII, left-justified, space-padded (1, 2, 4, 8 or 10 bytes)
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("uint", "ts", "price4", "price8", "alpha")


@dataclass(frozen=True)
class Field:
    """One field of a message: name, byte offset, width in bytes, kind."""

    name: str
    offset: int
    width: int
    kind: str


@dataclass(frozen=True)
class MessageSpec:
    """One ITCH message type: its type byte, a CamelCase name, total length and fields in order."""

    type: str
    name: str
    length: int
    fields: tuple[Field, ...]
    book: bool = False  # changes an order book

    @property
    def type_byte(self) -> int:
        return ord(self.type)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"ITCH {self.type} ({self.name}) has no field {name!r}")


# Every message starts with these four fields.
_HEADER = (("message_type", 1, "alpha"), ("stock_locate", 2, "uint"), ("tracking_number", 2, "uint"),
           ("timestamp", 6, "ts"))


def _msg(type_: str, name: str, length: int, body: tuple[tuple[str, int, str], ...], *,
         book: bool = False) -> MessageSpec:
    """Build a spec from (name, width, kind) triples laid end to end, checking the total length."""
    fields: list[Field] = []
    offset = 0
    for fname, width, kind in _HEADER + body:
        if kind not in KINDS:
            raise ValueError(f"ITCH {type_}: field {fname} has unknown kind {kind!r}")
        fields.append(Field(fname, offset, width, kind))
        offset += width
    if offset != length:
        raise ValueError(f"ITCH {type_}: fields add up to {offset} bytes, the spec says {length}")
    return MessageSpec(type_, name, length, tuple(fields), book)


_STOCK = ("stock", 8, "alpha")
_REF = ("order_reference_number", 8, "uint")

MESSAGES: tuple[MessageSpec, ...] = (
    # 1.1 System Event
    _msg("S", "SystemEvent", 12, (("event_code", 1, "alpha"),)),
    # 1.2.1 Stock Directory
    _msg("R", "StockDirectory", 39, (
        _STOCK, ("market_category", 1, "alpha"), ("financial_status_indicator", 1, "alpha"),
        ("round_lot_size", 4, "uint"), ("round_lots_only", 1, "alpha"),
        ("issue_classification", 1, "alpha"), ("issue_sub_type", 2, "alpha"),
        ("authenticity", 1, "alpha"), ("short_sale_threshold_indicator", 1, "alpha"),
        ("ipo_flag", 1, "alpha"), ("luld_reference_price_tier", 1, "alpha"), ("etp_flag", 1, "alpha"),
        ("etp_leverage_factor", 4, "uint"), ("inverse_indicator", 1, "alpha"))),
    # 1.2.2 Stock Trading Action
    _msg("H", "StockTradingAction", 25, (
        _STOCK, ("trading_state", 1, "alpha"), ("reserved", 1, "alpha"), ("reason", 4, "alpha"))),
    # 1.2.3 Reg SHO Short Sale Price Test Restricted Indicator
    _msg("Y", "RegShoRestriction", 20, (_STOCK, ("reg_sho_action", 1, "alpha"))),
    # 1.2.4 Market Participant Position
    _msg("L", "MarketParticipantPosition", 26, (
        ("mpid", 4, "alpha"), _STOCK, ("primary_market_maker", 1, "alpha"),
        ("market_maker_mode", 1, "alpha"), ("market_participant_state", 1, "alpha"))),
    # 1.2.5.1 MWCB Decline Level
    _msg("V", "MwcbDeclineLevel", 35, (
        ("level_1", 8, "price8"), ("level_2", 8, "price8"), ("level_3", 8, "price8"))),
    # 1.2.5.2 MWCB Status
    _msg("W", "MwcbStatus", 12, (("breached_level", 1, "alpha"),)),
    # 1.2.6 IPO Quoting Period Update
    _msg("K", "IpoQuotingPeriodUpdate", 28, (
        _STOCK, ("ipo_quotation_release_time", 4, "uint"), ("ipo_quotation_release_qualifier", 1, "alpha"),
        ("ipo_price", 4, "price4"))),
    # 1.2.7 LULD Auction Collar
    _msg("J", "LuldAuctionCollar", 35, (
        _STOCK, ("auction_collar_reference_price", 4, "price4"), ("upper_auction_collar_price", 4, "price4"),
        ("lower_auction_collar_price", 4, "price4"), ("auction_collar_extension", 4, "uint"))),
    # 1.2.8 Operational Halt
    _msg("h", "OperationalHalt", 21, (
        _STOCK, ("market_code", 1, "alpha"), ("operational_halt_action", 1, "alpha"))),
    # 1.3.1 Add Order, no MPID attribution
    _msg("A", "AddOrder", 36, (
        _REF, ("buy_sell_indicator", 1, "alpha"), ("shares", 4, "uint"), _STOCK, ("price", 4, "price4")),
        book=True),
    # 1.3.2 Add Order with MPID attribution
    _msg("F", "AddOrderMpid", 40, (
        _REF, ("buy_sell_indicator", 1, "alpha"), ("shares", 4, "uint"), _STOCK, ("price", 4, "price4"),
        ("attribution", 4, "alpha")), book=True),
    # 1.4.1 Order Executed
    _msg("E", "OrderExecuted", 31, (
        _REF, ("executed_shares", 4, "uint"), ("match_number", 8, "uint")), book=True),
    # 1.4.2 Order Executed with Price
    _msg("C", "OrderExecutedWithPrice", 36, (
        _REF, ("executed_shares", 4, "uint"), ("match_number", 8, "uint"), ("printable", 1, "alpha"),
        ("execution_price", 4, "price4")), book=True),
    # 1.4.3 Order Cancel
    _msg("X", "OrderCancel", 23, (_REF, ("cancelled_shares", 4, "uint")), book=True),
    # 1.4.4 Order Delete
    _msg("D", "OrderDelete", 19, (_REF,), book=True),
    # 1.4.5 Order Replace
    _msg("U", "OrderReplace", 35, (
        ("original_order_reference_number", 8, "uint"), ("new_order_reference_number", 8, "uint"),
        ("shares", 4, "uint"), ("price", 4, "price4")), book=True),
    # 1.5.1 Trade (non-cross)
    _msg("P", "Trade", 44, (
        _REF, ("buy_sell_indicator", 1, "alpha"), ("shares", 4, "uint"), _STOCK, ("price", 4, "price4"),
        ("match_number", 8, "uint"))),
    # 1.5.2 Cross Trade
    _msg("Q", "CrossTrade", 40, (
        ("shares", 8, "uint"), _STOCK, ("cross_price", 4, "price4"), ("match_number", 8, "uint"),
        ("cross_type", 1, "alpha"))),
    # 1.5.3 Broken Trade / Order Execution
    _msg("B", "BrokenTrade", 19, (("match_number", 8, "uint"),)),
    # 1.6 Net Order Imbalance Indicator
    _msg("I", "Noii", 50, (
        ("paired_shares", 8, "uint"), ("imbalance_shares", 8, "uint"), ("imbalance_direction", 1, "alpha"),
        _STOCK, ("far_price", 4, "price4"), ("near_price", 4, "price4"),
        ("current_reference_price", 4, "price4"), ("cross_type", 1, "alpha"),
        ("price_variation_indicator", 1, "alpha"))),
    # 1.7 Retail Price Improvement Indicator
    _msg("N", "RetailInterest", 20, (_STOCK, ("interest_flag", 1, "alpha"))),
    # 1.8 Direct Listing with Capital Raise Price Discovery
    _msg("O", "DirectListingCapitalRaise", 48, (
        _STOCK, ("open_eligibility_status", 1, "alpha"), ("minimum_allowable_price", 4, "price4"),
        ("maximum_allowable_price", 4, "price4"), ("near_execution_price", 4, "price4"),
        ("near_execution_time", 8, "uint"), ("lower_price_range_collar", 4, "price4"),
        ("upper_price_range_collar", 4, "price4"))),
)

BY_TYPE: dict[str, MessageSpec] = {m.type: m for m in MESSAGES}
BY_TYPE_BYTE: dict[int, MessageSpec] = {m.type_byte: m for m in MESSAGES}
LENGTHS: dict[str, int] = {m.type: m.length for m in MESSAGES}
MAX_LENGTH = max(LENGTHS.values())
MIN_LENGTH = min(LENGTHS.values())
BOOK_TYPES = tuple(m.type for m in MESSAGES if m.book)

if len(BY_TYPE) != len(MESSAGES):
    raise ValueError("duplicate ITCH message type in the table")
