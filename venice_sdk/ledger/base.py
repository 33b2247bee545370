"""What every credit ledger shares: the `CreditLedger` interface, the `Debit` outcome, the
ledger's errors, and how days, accounts and amounts are checked.

Money is integer micro-USD throughout. A day is a UTC day (``epoch_day(ts) = int(ts) // 86400``),
so credit resets at 00:00 UTC and unused credit does not roll over.

Holds: `CreditLedger.reserve` sets credit aside for a request whose cost is known only after it
ran (an inference whose output length is unknown); `settle` turns the hold into the actual
debit, `release` frees it. A hold counts against its day exactly like a debit.

Just over 500 lines: the interface and every rule the two backends share (checks, the
answers they build), so that each backend holds only its storage.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from venice_sdk.clock import Clock
from venice_sdk.errors import Reason, VeniceError

__all__ = [
    "ACTIVITY_WINDOW",
    "HOLD_TTL",
    "MAX_AMOUNT",
    "MAX_HOLD_TTL",
    "MONTH_BASE",
    "SECONDS_PER_DAY",
    "CreditLedger",
    "Debit",
    "Hold",
    "HoldAsk",
    "HoldError",
    "HoldState",
    "LedgerError",
    "LedgerUnavailable",
    "Settlement",
    "answer_hold",
    "check_request_id",
    "epoch_day",
    "month_period",
    "normalize_account",
    "stored_hold",
]

SECONDS_PER_DAY = 86_400
#: VCU mode shares capacity among wallets that made an API call in the last 7 days.
ACTIVITY_WINDOW = 7 * SECONDS_PER_DAY
#: Largest cost, limit or total a ledger accepts (about $9e9 a day in micro-USD): every amount
#: stays exact in SQLite's 64-bit integers and in the doubles of Redis's Lua.
MAX_AMOUNT = 2**53 - 1

#: How long a hold lives if it is neither settled nor released (its server died): 15 minutes.
HOLD_TTL = 900.0
#: The longest ``hold_ttl`` the servers' options take (a week).
MAX_HOLD_TTL = 7 * SECONDS_PER_DAY

_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_KEY_ID = re.compile(r"[\x21-\x7e]{1,200}")
#: A request id: 1 to 128 characters of [A-Za-z0-9._:-] (a UUID, a ULID, "chatcmpl-..." ...).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


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


class HoldError(LedgerError):
    """A settle or release that cannot apply (its ``code`` says why); nothing was changed.

    ``code`` is `Reason.UNKNOWN_HOLD`, `Reason.HOLD_SETTLED` (release after settle),
    `Reason.HOLD_RELEASED` (settle after release), `Reason.HOLD_EXPIRED` (settle after the hold's
    TTL ran out: the credit went back to the account) or `Reason.REQUEST_ID_REUSED` (a request id
    reserved again for another account or amount).
    """

    def __init__(self, code: Reason, message: str) -> None:
        code = Reason(code)
        super().__init__(code, message)  # both in args, so the error pickles across processes
        self.code: Reason = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def epoch_day(ts: float) -> int:
    """The UTC day number of unix time ``ts``; days roll over at 00:00 UTC."""
    return int(ts) // SECONDS_PER_DAY


#: Month periods are numbered from here (far above any epoch day), so a hold or spend on a
#: month never shares a counter with a day of the same account, and no day's pruning reaches it.
MONTH_BASE = 10_000_000


def month_period(ts: float) -> int:
    """The period of the UTC calendar month holding ``ts``, for `CreditLedger.reserve`'s
    ``period`` and `CreditLedger.spent`'s ``day``: ``MONTH_BASE + 12 * year + month - 1``."""
    when = time.gmtime(int(ts))
    return MONTH_BASE + 12 * when.tm_year + when.tm_mon - 1


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


def check_request_id(request_id: str) -> str:
    """A request id as the ledger keeps it: 1 to 128 characters of ``[A-Za-z0-9._:-]``."""
    if not isinstance(request_id, str):
        raise TypeError(f"request_id must be a str, not {type(request_id).__name__}")
    if not _REQUEST_ID.fullmatch(request_id):
        raise ValueError(
            f"request_id {request_id!r} must be 1-128 characters of letters, digits and ._:-"
        )
    return request_id


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


def _outcome(
    account: str, day: int, cost: int, limit: int, allowed: bool, spent: int, held: int = 0
) -> Debit:
    return Debit(
        allowed=allowed,
        account=account,
        day=day,
        cost=cost,
        spent=spent,
        remaining=max(0, limit - spent - held),
        reason=None if allowed else Reason.INSUFFICIENT_CREDIT,
    )


#: ``held`` until settled, released or expired; ``refused`` is a reserve that held nothing.
HoldState = Literal["held", "settled", "released", "expired", "refused"]


@dataclass(frozen=True, slots=True)
class Hold:
    """Credit set aside by `CreditLedger.reserve` (or the state of one, from `release`).

    ``amount`` is what is held; ``day`` is the UTC day it counts against (and settles into, even
    after midnight); ``expires_at`` is when it is released if nobody settles it. ``spent`` and
    ``held`` are the day's settled spend and live holds after the call, ``remaining`` is
    ``limit - spent - held`` (never below zero). A refused reserve (``allowed`` false,
    ``state == "refused"``, ``reason`` `Reason.INSUFFICIENT_CREDIT`) holds nothing.
    """

    allowed: bool
    request_id: str
    account: str
    day: int
    amount: int
    limit: int
    expires_at: float
    state: HoldState
    spent: int
    held: int
    remaining: int
    reason: Reason | None = None


#: A checked reserve, or a stored hold: ``(request_id, account, day, amount, limit, expires_at)``,
#: the fields both backends turn into a `Hold` (`answer_hold`).
HoldAsk = tuple[str, str, int, int, int, float]


def answer_hold(ask: HoldAsk, state: HoldState, spent: int, held: int) -> Hold:
    """The `Hold` of ``ask`` in ``state`` given the day's settled ``spent`` and live ``held``
    after the call (a ``refused`` one holds nothing and says why)."""
    refused = state == "refused"
    remaining = max(0, ask[4] - spent - held)
    reason = Reason.INSUFFICIENT_CREDIT if refused else None
    return Hold(not refused, *ask, state, spent, held, remaining, reason)


def stored_hold(request_id: str, account: str, row: Sequence[Any], spent: int, held: int) -> Hold:
    """The `Hold` of a stored hold ``row = (day, amount, limit, expires, state, ...)``."""
    day, amount, limit, expires, state = row[:5]
    ask = (request_id, account, int(day), int(amount), int(limit), float(expires))
    return answer_hold(ask, state, int(spent), int(held))


@dataclass(frozen=True, slots=True)
class Settlement(Debit):
    """A settled hold: a `Debit` of ``cost`` on the hold's ``day`` (always ``allowed``).

    ``requested`` is the actual cost the caller reported; ``cost`` is what was debited: the same,
    or the hold's ``held`` amount when the actual was more (``capped``). ``released`` went back to
    the account. ``remaining`` counts the day's other live holds.
    """

    request_id: str = ""
    held: int = 0
    requested: int = 0
    released: int = 0
    capped: bool = False


def _settle_error(request_id: str, state: str | None) -> HoldError:
    """Why a hold in ``state`` (None: no such hold) cannot be settled."""
    if state == "released":
        return HoldError(Reason.HOLD_RELEASED, f"hold {request_id} was released: nothing to settle")
    if state == "expired":
        return HoldError(
            Reason.HOLD_EXPIRED,
            f"hold {request_id} expired (its hold_ttl ran out) and its credit went back",
        )
    return HoldError(Reason.UNKNOWN_HOLD, f"no hold for request {request_id}")


def _release_error(request_id: str, state: str | None) -> HoldError:
    """Why a hold in ``state`` (None: no such hold) cannot be released."""
    if state == "settled":
        return HoldError(Reason.HOLD_SETTLED, f"hold {request_id} was settled: nothing to release")
    return HoldError(Reason.UNKNOWN_HOLD, f"no hold for request {request_id}")


def _renew_error(request_id: str, state: str | None) -> HoldError:
    """Why a hold in ``state`` (None: no such hold) cannot be renewed."""
    if state == "settled":
        return HoldError(Reason.HOLD_SETTLED, f"hold {request_id} was settled: nothing to renew")
    return _settle_error(request_id, state)


def _settlement(
    request_id: str,
    account: str,
    day: int,
    amount: int,
    limit: int,
    cost: int,
    requested: int,
    spent: int,
    held: int,
) -> Settlement:
    return Settlement(
        allowed=True,
        account=account,
        day=int(day),
        cost=int(cost),
        spent=int(spent),
        remaining=max(0, int(limit) - int(spent) - held),
        request_id=request_id,
        held=int(amount),
        requested=int(requested),
        released=int(amount) - int(cost),
        capped=int(requested) > int(amount),
    )


def _reused(request_id: str) -> HoldError:
    return HoldError(
        Reason.REQUEST_ID_REUSED,
        f"request id {request_id} already holds credit for another account or amount",
    )


class CreditLedger(ABC):
    """Per-account daily spend in micro-USD, debited atomically, plus recent activity."""

    #: How long activity is kept; windows longer than this are refused.
    activity_retention: int = ACTIVITY_WINDOW
    #: Seconds a hold lives unless settled or released.
    hold_ttl: float = HOLD_TTL

    def __init__(
        self, clock: Clock | None = None, *, hold_ttl: float = HOLD_TTL, retention_days: int = 3
    ) -> None:
        self.clock: Clock = clock if clock is not None else time.time
        if not hold_ttl > 0:
            raise ValueError("hold_ttl must be a positive number of seconds")
        self.hold_ttl = float(hold_ttl)
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        #: Days of spend (and holds) kept before they are deleted.
        self.retention_days = retention_days

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

    def ping(self) -> None:
        """Readiness: return if the store answers, else raise `LedgerUnavailable`."""
        self.spent("readiness-probe")

    # --- holds ----------------------------------------------------------------------------

    def reserve(
        self, account: str, max_cost: int, limit: int, request_id: str, *, period: int | None = None
    ) -> Hold:
        """Hold ``max_cost`` of today's credit for request ``request_id`` if the day's settled
        spend plus live holds plus ``max_cost`` stays within ``limit``; else hold nothing (a
        refused `Hold`, `Reason.INSUFFICIENT_CREDIT`).

        Atomic like a debit. Idempotent by ``request_id``: reserving an id again returns the
        same hold (in its current state) and holds nothing more; the same id for another
        account or amount raises `HoldError` (`Reason.REQUEST_ID_REUSED`). A refused reserve
        keeps nothing, so its id may be tried again. Every hold call (and every debit) first
        releases the account's holds whose ``hold_ttl`` ran out.

        ``period`` counts the hold against another window than today: `month_period` for a
        calendar-month budget (its spend is kept until the month after it ends).
        """
        return self._reserve(*self._ask(account, max_cost, limit, request_id, period))

    def _ask(
        self, account: str, max_cost: int, limit: int, request_id: str, period: int | None
    ) -> tuple[float, HoldAsk]:
        """A checked reserve: the time now and its `HoldAsk` (raises as `reserve` does)."""
        _check_amount("max_cost", max_cost)
        _check_amount("limit", limit)
        rid = check_request_id(request_id)
        now = float(self.clock())
        account = normalize_account(account)
        day = epoch_day(now) if period is None else period
        return now, (rid, account, day, max_cost, limit, now + self.hold_ttl)

    def settle(self, hold: Hold | str, actual_cost: int) -> Settlement:
        """Debit the actual cost of a held request and release the rest of its hold.

        ``hold`` is the `Hold` from `reserve` or its request id. The debit goes to the day the
        hold was taken (so a request that straddles midnight UTC settles into its first day)
        and is never more than the hold: a larger ``actual_cost`` is capped at it
        (``capped``). Settling again returns the first result and changes nothing; settling
        a released, expired or unknown hold raises `HoldError` and changes nothing.
        """
        _check_amount("actual_cost", actual_cost)
        account, rid = self._hold_ref(hold)
        return self._settle(float(self.clock()), account, rid, actual_cost)

    def release(self, hold: Hold | str) -> Hold:
        """Give a hold's credit back without debiting anything.

        Releasing again (or releasing a hold that expired) returns its state and changes
        nothing; releasing a settled or unknown hold raises `HoldError`.
        """
        account, rid = self._hold_ref(hold)
        return self._release(float(self.clock()), account, rid)

    def renew(self, hold: Hold | str) -> Hold:
        """Push a live hold's expiry to ``hold_ttl`` seconds from now: a lease its server
        renews while the request is still being served (a stream longer than ``hold_ttl``),
        so that only a hold whose server died expires. Renewing a settled, released, expired
        or unknown hold raises `HoldError` and changes nothing."""
        account, rid = self._hold_ref(hold)
        now = float(self.clock())
        return self._renew(now, account, rid, now + self.hold_ttl)

    def held(self, account: str, day: int | None = None) -> int:
        """The credit ``account`` has on live holds taken on ``day`` (default today)."""
        now = float(self.clock())
        return self._held(normalize_account(account), epoch_day(now) if day is None else day, now)

    @staticmethod
    def _hold_ref(hold: Hold | str) -> tuple[str | None, str]:
        if isinstance(hold, Hold):
            return hold.account, check_request_id(hold.request_id)
        return None, check_request_id(hold)

    @abstractmethod
    def _reserve(self, now: float, ask: HoldAsk) -> Hold:
        """Reserve a checked ``ask`` at ``now``."""

    @abstractmethod
    def _settle(self, now: float, account: str | None, request_id: str, cost: int) -> Settlement:
        """Settle a hold (``account`` is None when only the request id is known)."""

    @abstractmethod
    def _release(self, now: float, account: str | None, request_id: str) -> Hold:
        """Release a hold."""

    @abstractmethod
    def _renew(self, now: float, account: str | None, request_id: str, expires_at: float) -> Hold:
        """Renew a hold until ``expires_at``."""

    @abstractmethod
    def _held(self, account: str, day: int, now: float) -> int:
        """Live holds of a normalised account on ``day`` at ``now``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> CreditLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
