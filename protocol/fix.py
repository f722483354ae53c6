"""FIX 4.4 order entry: the tags, code values and conversions tickgate uses, defined once.

The session layer (logon, heartbeats, sequence numbers, resends) is the QuickFIX engine's; this module only
names what the order messages carry: NewOrderSingle `D`, OrderCancelRequest `F`, OrderCancelReplaceRequest
`G`, ExecutionReport `8`, OrderCancelReject `9`, and the session- and business-level rejects `3` and `j`.
Prices travel as decimal text (`100.25`) and are Price(4) integers everywhere else, as in ITCH and OUCH.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["BEGIN_STRING", "CXL_REJ_REASONS", "EXEC_TYPES", "FIX_SIDE", "HOST_SIDE", "MSG", "ORD_REJ_OF_OUCH",
           "ORD_REJ_REASONS", "ORD_TYPE_LIMIT", "TIME_IN_FORCE", "Tag", "price4", "price_text", "reject_text"]

BEGIN_STRING = "FIX.4.4"


class Tag(IntEnum):
    """The FIX field numbers of the order messages."""

    AVG_PX = 6
    BEGIN_SEQ_NO = 7
    CL_ORD_ID = 11
    CUM_QTY = 14
    EXEC_ID = 17
    LAST_PX = 31
    LAST_QTY = 32
    MSG_SEQ_NUM = 34
    MSG_TYPE = 35
    ORDER_ID = 37
    ORDER_QTY = 38
    ORD_STATUS = 39
    ORD_TYPE = 40
    ORIG_CL_ORD_ID = 41
    POSS_DUP_FLAG = 43
    PRICE = 44
    REF_SEQ_NUM = 45
    SIDE = 54
    SYMBOL = 55
    TEXT = 58
    TIME_IN_FORCE = 59
    TRANSACT_TIME = 60
    CXL_REJ_REASON = 102
    ORD_REJ_REASON = 103
    EXEC_TYPE = 150
    LEAVES_QTY = 151
    SESSION_REJECT_REASON = 373
    BUSINESS_REJECT_REASON = 380
    CXL_REJ_RESPONSE_TO = 434


MSG = {"new_order": "D", "cancel": "F", "replace": "G", "execution_report": "8", "cancel_reject": "9",
       "reject": "3", "business_reject": "j", "resend_request": "2", "sequence_reset": "4", "logout": "5"}

FIX_SIDE = {"B": "1", "S": "2", "T": "5", "E": "6"}  # OUCH side -> FIX Side(54): buy, sell, short, short exempt
HOST_SIDE = {"1": "B", "2": "S", "5": "S", "6": "S"}  # FIX Side -> the host's B/S
ORD_TYPE_LIMIT = "2"
TIME_IN_FORCE = {"0": "day", "3": "ioc"}  # FIX TimeInForce(59) and OUCH's codes coincide for these two

EXEC_TYPES = {"0": "new", "4": "canceled", "5": "replaced", "8": "rejected", "F": "trade", "C": "expired",
              "3": "done for day", "6": "pending cancel", "E": "pending replace", "I": "order status"}
ORD_REJ_REASONS: dict[int, str] = {
    0: "Broker credit", 1: "Unknown symbol", 2: "Exchange closed", 3: "Order exceeds limit", 4: "Too late to enter",
    5: "Unknown order", 6: "Duplicate order", 7: "Duplicate of a verbally communicated order", 8: "Stale order",
    9: "Trade along required", 10: "Invalid investor ID", 11: "Unsupported order characteristic",
    13: "Incorrect quantity", 14: "Incorrect allocated quantity", 15: "Unknown account", 99: "Other",
}
CXL_REJ_REASONS: dict[int, str] = {
    0: "Too late to cancel", 1: "Unknown order", 2: "Broker credit", 3: "Order already in pending status",
    4: "Unable to process order mass cancel request", 5: "Orig ord mod time", 6: "Duplicate ClOrdID", 99: "Other",
}
# OUCH 5.0 Rejected reason -> FIX OrdRejReason (the simulator's matching speaks OUCH's codes)
ORD_REJ_OF_OUCH: dict[int, int] = {0x17: 1, 0x02: 2, 0x13: 13, 0x09: 11, 0x1D: 11, 0x0F: 99}


def reject_text(table: dict[int, str], code: int, text: str = "") -> str:
    """'Unknown symbol (1): Invalid Symbol (0x0017)' from a reason code of `table` and the Text(58) beside it."""
    name = f"{table.get(code, 'Unknown reason')} ({code})"
    return f"{name}: {text}" if text else name


def price_text(price4: int) -> str:
    """Price(4) integer -> FIX price text, exact: 1002500 -> '100.25'."""
    whole, frac = divmod(abs(price4), 10_000)
    sign = "-" if price4 < 0 else ""
    return f"{sign}{whole}.{frac:04d}".rstrip("0").rstrip(".") if frac else f"{sign}{whole}"


def price4(text: str) -> int:
    """FIX price text -> Price(4) integer, exact to 4 decimals (more are rounded half up): '100.25' -> 1002500."""
    s = text.strip()
    neg = s.startswith("-")
    whole, _, frac = s.lstrip("+-").partition(".")
    if not (whole or frac) or not (whole or "0").isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"FIX price {text!r} is not a decimal number")
    value = int(whole or "0") * 10_000 + int((frac + "0000")[:4])
    if len(frac) > 4 and frac[4] >= "5":
        value += 1
    return -value if neg else value
