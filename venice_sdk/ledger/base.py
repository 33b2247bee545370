"""What every credit ledger shares: the `CreditLedger` interface, the `Debit` outcome, the
ledger's errors, and how days, accounts and amounts are checked.

Money is integer micro-USD throughout. A day is a UTC day (``epoch_day(ts) = int(ts) // 86400``),
so credit resets at 00:00 UTC and unused credit does not roll over.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from venice_sdk.clock import Clock
from venice_sdk.errors import Reason, VeniceError

__all__ = [
    "ACTIVITY_WINDOW",
    "MAX_AMOUNT",
    "SECONDS_PER_DAY",
    "CreditLedger",
    "Debit",
    "LedgerError",
    "LedgerUnavailable",
    "epoch_day",
    "normalize_account",
]

SECONDS_PER_DAY = 86_400
#: VCU mode shares capacity among wallets that made an API call in the last 7 days.
ACTIVITY_WINDOW = 7 * SECONDS_PER_DAY
#: Largest cost, limit or total a ledger accepts (about $9e9 a day in micro-USD): every amount
#: stays exact in SQLite's 64-bit integers and in the doubles of Redis's Lua.
MAX_AMOUNT = 2**53 - 1

_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_KEY_ID = re.compile(r"[\x21-\x7e]{1,200}")


class LedgerError(VeniceError):
    """Base class of the ledger's own errors."""


class LedgerUnavailable(LedgerError):
    """The ledger's store could not be reached (or stayed locked) in time.

    Servers should refuse the request (fail closed) and may retry later. A debit that raised it
    was never applied in part: `SQLiteLedger` rolled it back, and a `RedisLedger` debit is one
    atomic script. With Redis, one case is undecidable: the server ran the script but went away
    before replying and stayed away past ``retry_for``; that debit may have been applied (once:
    its token stops any retry from applying it again), in the protocol's favour.
    """


def epoch_day(ts: float) -> int:
    """The UTC day number of unix time ``ts``; days roll over at 00:00 UTC."""
    return int(ts) // SECONDS_PER_DAY


def normalize_account(account: str) -> str:
    """The ledger's name for an account.

    A 20-byte hex address (``0x`` + 40 hex digits) is lower-cased, so every checksum spelling
    of a wallet shares one balance; anything else is an opaque API-key id, kept as given:
    1 to 200 printable ASCII characters without spaces.
    """
    if not isinstance(account, str):
        raise TypeError(f"account must be a str, not {type(account).__name__}")
    if _ADDRESS.fullmatch(account):
        return "0x" + account[2:].lower()
    if not _KEY_ID.fullmatch(account):
        raise ValueError(
            f"account {account!r} is neither a 0x address nor a key id "
            "(1-200 printable ASCII characters, no spaces)"
        )
    return account


def _check_amount(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int of micro-USD, not {type(value).__name__}")
    if not 0 <= value <= MAX_AMOUNT:
        raise ValueError(f"{name} must be between 0 and {MAX_AMOUNT} micro-USD (got {value})")


@dataclass(frozen=True, slots=True)
class Debit:
    """The outcome of one `CreditLedger.debit`.

    ``spent`` is the account's total for ``day`` after the call (unchanged when refused) and
    ``remaining`` is ``daily_limit - spent``, never below zero.
    """

    allowed: bool
    account: str
    day: int
    cost: int
    spent: int
    remaining: int
    reason: Reason | None = None


def _outcome(account: str, day: int, cost: int, limit: int, allowed: bool, spent: int) -> Debit:
    return Debit(
        allowed=allowed,
        account=account,
        day=day,
        cost=cost,
        spent=spent,
        remaining=max(0, limit - spent),
        reason=None if allowed else Reason.INSUFFICIENT_CREDIT,
    )


class CreditLedger(ABC):
    """Per-account daily spend in micro-USD, debited atomically, plus recent activity."""

    #: How long activity is kept; windows longer than this are refused.
    activity_retention: int = ACTIVITY_WINDOW

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else time.time

    def today(self) -> int:
        """The current UTC day number by this ledger's clock."""
        return epoch_day(self.clock())

    def debit(self, account: str, cost: int, daily_limit: int) -> Debit:
        """Add ``cost`` to today's spend if it stays within ``daily_limit``; else change nothing.

        A cost of 0 is allowed (even at the limit) and changes nothing.
        """
        _check_amount("cost", cost)
        _check_amount("daily_limit", daily_limit)
        return self._debit_one(self.today(), normalize_account(account), cost, daily_limit)

    def debit_many(self, requests: Sequence[tuple[str, int, int]]) -> list[Debit]:
        """Debit several independent ``(account, cost, daily_limit)`` requests.

        Each debit is atomic on its own, exactly as `debit`; they are only sent together (one
        Redis pipeline, one SQLite transaction), so a refused one does not affect the others.
        """
        day = self.today()
        checked = []
        for account, cost, limit in requests:
            _check_amount("cost", cost)
            _check_amount("daily_limit", limit)
            checked.append((normalize_account(account), cost, limit))
        return self._debit_many(day, checked)

    @abstractmethod
    def _debit_many(self, day: int, requests: list[tuple[str, int, int]]) -> list[Debit]:
        """Debit validated requests on ``day``."""

    def _debit_one(self, day: int, account: str, cost: int, limit: int) -> Debit:
        """Debit one validated request on ``day`` (a backend may do it with less work)."""
        return self._debit_many(day, [(account, cost, limit)])[0]

    def spent(self, account: str, day: int | None = None) -> int:
        """What ``account`` has spent on ``day`` (default today), in micro-USD."""
        return self._spent(normalize_account(account), self.today() if day is None else day)

    @abstractmethod
    def _spent(self, account: str, day: int) -> int:
        """Spend of a normalised account on ``day``."""

    def remaining(self, account: str, daily_limit: int) -> int:
        """What ``account`` may still spend today under ``daily_limit``."""
        _check_amount("daily_limit", daily_limit)
        return max(0, daily_limit - self.spent(account))

    def record_activity(self, account: str) -> None:
        """Note that ``account`` made an API call now."""
        self._record_activity(normalize_account(account), float(self.clock()))

    @abstractmethod
    def _record_activity(self, account: str, now: float) -> None:
        """Store ``now`` as the last call of a normalised account."""

    def last_activity(self, account: str) -> float | None:
        """Unix time of the last recorded call of ``account``, or ``None``."""
        return self._last_activity(normalize_account(account))

    @abstractmethod
    def _last_activity(self, account: str) -> float | None:
        """Last call of a normalised account."""

    def is_active(self, account: str, window: int = ACTIVITY_WINDOW) -> bool:
        """Whether ``account`` made a call in the last ``window`` seconds."""
        self._check_window(window)
        last = self.last_activity(account)
        return last is not None and last > float(self.clock()) - window

    def active_accounts(self, window: int = ACTIVITY_WINDOW) -> int:
        """How many accounts made a call in the last ``window`` seconds."""
        self._check_window(window)
        return self._count_active(float(self.clock()) - window)

    @abstractmethod
    def _count_active(self, since: float) -> int:
        """Accounts whose last call is after ``since``."""

    def active_list(self, window: int = ACTIVITY_WINDOW) -> list[str]:
        """The accounts that made a call in the last ``window`` seconds (VCU mode reads their
        stakes once a day to share the capacity)."""
        self._check_window(window)
        return self._list_active(float(self.clock()) - window)

    @abstractmethod
    def _list_active(self, since: float) -> list[str]:
        """Accounts whose last call is after ``since``."""

    def _check_window(self, window: int) -> None:
        if not 0 < window <= self.activity_retention:
            raise ValueError(
                f"window must be between 1 and {self.activity_retention} seconds "
                f"(the activity kept), got {window}"
            )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> CreditLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
