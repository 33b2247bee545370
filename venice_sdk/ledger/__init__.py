"""Daily credit ledgers: how much an account has spent today, and may it spend more.

Money is integer micro-USD throughout. A day is a UTC day (``epoch_day(ts) = int(ts) // 86400``),
so credit resets at 00:00 UTC and unused credit does not roll over. Every check-and-debit is
atomic: a debit that would take an account past its daily limit changes nothing, and no
interleaving of servers, threads or processes can overspend.

Two backends share one interface, `CreditLedger`:

* `SQLiteLedger`: one file, durable across restarts (WAL mode); processes on one machine share
  it and each debit is one ``BEGIN IMMEDIATE`` transaction.
* `RedisLedger`: one Redis shared by a fleet; each debit is one Lua script run in one round trip,
  carrying a random token so that a retry after a lost reply never debits twice.

Holds: `reserve` sets credit aside for a request whose cost is known only after it ran,
`settle` debits the actual cost (never more than the hold) into the day the hold was taken,
`release` frees it; all idempotent by request id, and a hold nobody settles expires after
``hold_ttl`` seconds (released by the next call on its account, no background job).

Both also keep each account's last API call, so VCU mode can count the wallets active in the
last 7 days.

The interface and its checks are in `base`, the backends in `sqlite` and `redis` (whose Lua
scripts are the package files `sweep.lua`, `debit.lua` and `holds.lua`); import them all from here.
"""

from venice_sdk.clock import Clock
from venice_sdk.ledger.base import (
    ACTIVITY_WINDOW,
    HOLD_TTL,
    MAX_AMOUNT,
    MAX_HOLD_TTL,
    SECONDS_PER_DAY,
    CreditLedger,
    Debit,
    Hold,
    HoldError,
    HoldState,
    LedgerError,
    LedgerUnavailable,
    Settlement,
    check_request_id,
    epoch_day,
    month_period,
    normalize_account,
)
from venice_sdk.ledger.redis import RedisLedger
from venice_sdk.ledger.sqlite import SQLiteLedger

__all__ = [
    "ACTIVITY_WINDOW",
    "HOLD_TTL",
    "MAX_AMOUNT",
    "MAX_HOLD_TTL",
    "SECONDS_PER_DAY",
    "Clock",
    "CreditLedger",
    "Debit",
    "Hold",
    "HoldError",
    "HoldState",
    "LedgerError",
    "LedgerUnavailable",
    "RedisLedger",
    "SQLiteLedger",
    "Settlement",
    "check_request_id",
    "epoch_day",
    "month_period",
    "normalize_account",
]
