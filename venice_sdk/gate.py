"""The per-request decision: may this caller be served, and what does it cost them.

`Gatekeeper.authorize(who, model, input_tokens, output_tokens, images)`:
1. `who` is a wallet address or an API key issued by a `venice_sdk.auth.KeyStore`; a key
   resolves to its wallet (an unknown, revoked or expired key is refused, and a model outside
   the key's allowlist is refused ``model_not_allowed``).
2. The wallet's entitlement (cached, see `EntitlementClient`) gives today's credit: staked DIEM
   ($1 per DIEM, none under 0.1 DIEM), or in VCU mode its share of the daily capacity among
   active stakers; a key's own per-day limit caps it. A key's daily and monthly (UTC calendar
   month) budgets are held first (`KeyHolds`), then settled if the wallet is debited, released
   if it refuses: no counter keeps a charge for a refused request.
3. The request is priced from the `PriceBook` (micro-USD, rounded up) and debited from today's
   credit atomically by the `CreditLedger` (SQLite on one server, Redis across a fleet); the
   epoch rolls at 00:00 UTC.
4. The call is recorded as activity (VCU mode counts wallets active in the last 7 days).

Every refusal is a `Decision` with `allowed=False` and a machine-readable `reason`; nothing is
debited for a refused request. A malformed request (wrong types, negative counts, a price or a
limit beyond what a ledger holds) is refused as ``bad_request``, never raised, so that one bad
request decided in a batch (`authorize_many`, `decide_many`) cannot fail its neighbours.

`Gatekeeper(..., wallets=False)` refuses a bare wallet address as ``wallet_not_allowed``: only
API keys may spend. Use it whenever ``who`` comes from the caller (e.g. a bearer token passed
through), since anyone who knows a wallet's address could otherwise spend its credit.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from venice_sdk.auth import KEY_PREFIX, AuthError, KeyRecord, KeyStore
from venice_sdk.auth.key_store import check_model
from venice_sdk.entitlements import EntitlementClient, EntitlementError
from venice_sdk.errors import Reason
from venice_sdk.ledger import MAX_AMOUNT, CreditLedger, Debit, Hold, Settlement, month_period
from venice_sdk.pricing import PriceBook, UnknownModel

__all__ = [
    "ACTIVITY_RESOLUTION",
    "ActiveStake",
    "Decision",
    "Gatekeeper",
    "KeyHolds",
    "Request",
    "VcuPolicy",
]

ACTIVITY_RESOLUTION = 3_600  # seconds between activity writes for one wallet
#: A key's own holds have the request's id plus these suffixes (daily, monthly budget).
KEY_HOLD_SUFFIX = ":k"
MONTH_HOLD_SUFFIX = ":m"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """One request's outcome. ``spent``, ``remaining`` and ``daily_limit`` describe one budget,
    so ``spent + remaining == daily_limit`` when the request was debited: the API key's own
    budget when the key has a daily limit, else the wallet's. The ``wallet_*`` fields always
    describe the wallet's (the same figures when no key limit applies)."""

    allowed: bool
    reason: Reason  # OK or why not
    address: str | None = None
    cost: int = 0  # micro-USD
    spent: int = 0  # today, after this request
    remaining: int = 0
    daily_limit: int = 0
    source: str = "none"  # "diem", "vcu" or "none"
    pro: bool = False
    stale: bool = False
    wallet_spent: int = 0
    wallet_remaining: int = 0
    wallet_daily_limit: int = 0


# A request: (wallet or API key, model, input tokens, output tokens, images).
Request = tuple[str, str, int, int, int]


class _Priced(NamedTuple):
    """A request that passed its checks: its cost and the credit it may draw on (a tuple:
    built on every request, and several times cheaper to build than a frozen dataclass)."""

    address: str
    cost: int
    wallet_limit: int  # the wallet's credit today
    limit: int  # the same, capped by the key's own limit
    source: str
    pro: bool
    stale: bool


@dataclass(frozen=True)
class VcuPolicy:
    """VCU mode: a staker's daily credit is its share of `capacity_micros` among the stake
    of wallets active in the last 7 days, which `active_stake` returns (wei; the operator
    refreshes it at 00:00 UTC, e.g. from the ledger's active wallets read in one batch)."""

    capacity_micros: int
    active_stake: Callable[[], int]


class ActiveStake:
    """The stake of wallets active in the last 7 days, for `VcuPolicy`: read once per UTC day
    (the real system refreshes allocations at 00:00 UTC) from the ledger's active wallets, at one
    block (`EntitlementClient.get_many`: 1,000 wallets per `eth_call`)."""

    def __init__(self, client: EntitlementClient, ledger: CreditLedger):
        self.client, self.ledger = client, ledger
        self._day: int | None = None
        self._total = 0

    def __call__(self) -> int:
        day = self.ledger.today()
        if day != self._day:
            wallets = [a for a in self.ledger.active_list() if not a.startswith(KEY_PREFIX)]
            # One get_many: the wallets it reads, it reads in calls of 1,000 at one block
            # (slices read each at its own 'latest', so a block between them counted a moved
            # stake twice); wallets in the client's cache are as of their own read (ttl).
            total = sum(e.staked for e in self.client.get_many(wallets))
            self._day, self._total = day, total
        return self._total


def has_budget(record: KeyRecord) -> bool:
    """Whether a key has a daily or a monthly budget of its own."""
    return record.daily_limit_micros is not None or record.monthly_limit_micros is not None


@dataclass(frozen=True)
class KeyHolds:
    """Holds of one request on its key's own budgets: ``daily`` (request id + ``:k``, today)
    and ``monthly`` (request id + ``:m``, on the UTC calendar month's `month_period`), each
    None when the key has no such budget. If one was refused, ``refused`` is that hold,
    ``reason`` its code, and nothing is held."""

    daily: Hold | None = None
    monthly: Hold | None = None
    refused: Hold | None = None
    reason: Reason = Reason.OK

    @classmethod
    def take(cls, ledger: CreditLedger, record: KeyRecord, amount: int, rid: str) -> KeyHolds:
        """Hold ``amount`` on each of ``record``'s budgets, daily first; if one refuses,
        release the other (the caller is refused with nothing held)."""
        daily = monthly = None
        if record.daily_limit_micros is not None:
            limit = min(record.daily_limit_micros, MAX_AMOUNT)
            daily = ledger.reserve(record.key_id, amount, limit, rid + KEY_HOLD_SUFFIX)
            if not daily.allowed:
                return cls(refused=daily, reason=Reason.KEY_LIMIT_REACHED)
        if record.monthly_limit_micros is not None:
            limit = min(record.monthly_limit_micros, MAX_AMOUNT)
            period = month_period(float(ledger.clock()))
            try:
                monthly = ledger.reserve(
                    record.key_id, amount, limit, rid + MONTH_HOLD_SUFFIX, period=period
                )
            except BaseException:
                cls(daily).release(ledger)
                raise
            if not monthly.allowed:
                cls(daily).release(ledger)
                return cls(refused=monthly, reason=Reason.KEY_MONTHLY_LIMIT_REACHED)
        return cls(daily, monthly)

    def release(self, ledger: CreditLedger) -> None:
        """Free the holds (best effort: one the ledger cannot reach expires after its TTL)."""
        for hold in (self.daily, self.monthly):
            if hold is not None:
                try:
                    ledger.release(hold)
                except Exception:
                    _log.warning("could not release hold %s", hold.request_id, exc_info=True)

    def settle(self, ledger: CreditLedger, cost: int) -> Settlement | None:
        """Debit ``cost`` on each budget; the daily budget's `Settlement` (None if none)."""
        settled = None
        for hold in (self.daily, self.monthly):
            if hold is not None:
                done = ledger.settle(hold, cost)
                settled = done if hold is self.daily else settled
        return settled


class Gatekeeper:
    def __init__(
        self,
        client: EntitlementClient,
        ledger: CreditLedger,
        prices: PriceBook,
        keys: KeyStore | None = None,
        vcu: VcuPolicy | None = None,
        *,
        wallets: bool = True,
    ):
        self.client, self.ledger, self.prices = client, ledger, prices
        self.keys, self.vcu = keys, vcu
        self.wallets = wallets  # False: only API keys may spend (see the module's doc)
        # Activity is kept per hour per wallet: VCU mode only asks "a call in the last 7 days",
        # so one write an hour per wallet (not one per request) is enough.
        self._active_marked: dict[str, float] = {}

    def credit(self, address: str) -> tuple[int, str, bool, bool]:
        """(daily limit in micro-USD, its source, Pro, stale) of a wallet."""
        entitlement = self.client.get(address)
        limit, source = entitlement.daily_credit, "diem"
        if limit == 0 and self.vcu is not None and entitlement.staked > 0:
            share = entitlement.vcu_allocation(self.vcu.active_stake(), self.vcu.capacity_micros)
            limit, source = share, "vcu"
        if limit == 0:
            source = "none"
        # No ledger holds more than MAX_AMOUNT a day: a larger credit is the same as MAX_AMOUNT.
        return min(limit, MAX_AMOUNT), source, entitlement.is_pro, entitlement.stale

    def authorize(
        self,
        who: str,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        images: int = 0,
    ) -> Decision:
        if not isinstance(who, str) or not who:
            return Decision(False, Reason.BAD_REQUEST)
        key_limit: int | None = None
        address = who
        record: KeyRecord | None = None
        if who.startswith(KEY_PREFIX):
            if self.keys is None:
                return Decision(False, Reason.UNKNOWN_KEY)
            try:
                record = self.keys.resolve(who)
                check_model(record, model if isinstance(model, str) else None)
            except AuthError as exc:
                return Decision(False, exc.code, address=getattr(record, "address", None))
            address, key_limit = record.address, record.daily_limit_micros
            if key_limit is not None:
                # A limit above what any ledger holds in a day is the same as MAX_AMOUNT.
                key_limit = min(key_limit, MAX_AMOUNT)
        elif not self.wallets:
            return Decision(False, Reason.WALLET_NOT_ALLOWED)
        priced = self._price(address, model, input_tokens, output_tokens, images, key_limit)
        if isinstance(priced, Decision):
            return priced
        if record is None or not has_budget(record):
            return self._decide(priced, self.ledger.debit(address, priced.cost, priced.limit))
        # A key's own budgets are held first (daily, then monthly), then the wallet is debited;
        # the holds are settled if the wallet's debit is allowed and released if not, so no
        # counter keeps a charge for a refused request.
        holds = KeyHolds.take(self.ledger, record, priced.cost, "gate-" + secrets.token_hex(12))
        if holds.refused is not None:
            spent = self.ledger.spent(address)
            wallet = (spent, max(0, priced.wallet_limit - spent))
            refused = holds.refused
            debit = Debit(False, address, refused.day, priced.cost, refused.spent,
                          refused.remaining)  # fmt: skip
            return self._decide(priced, debit, holds.reason,
                                budget=(refused.spent, refused.remaining, refused.limit),
                                wallet=wallet)  # fmt: skip
        try:
            debit = self.ledger.debit(address, priced.cost, priced.wallet_limit)
        except BaseException:
            holds.release(self.ledger)
            raise
        if not debit.allowed:
            holds.release(self.ledger)
            budget: tuple[int, int, int] | None = None
            if holds.daily is not None:  # the key's figures with its hold given back
                daily = holds.daily
                budget = (daily.spent, daily.remaining + daily.amount, daily.limit)
            return self._decide(priced, debit, budget=budget)
        settled = holds.settle(self.ledger, priced.cost)
        budget = None if settled is None else (settled.spent, settled.remaining, key_limit or 0)
        return self._decide(priced, debit, budget=budget)

    def authorize_many(self, requests: Sequence[Request]) -> list[Decision]:
        """Decide a batch of concurrent requests at once, in order, as `authorize` would one by
        one: the wallets' debits go to the ledger together (one SQLite transaction, one Redis
        pipeline of atomic scripts), which is what a server answering many requests at a time
        should use. Requests by API key are decided one by one (their key limit comes first).

        Each request is checked and priced on its own before the ledger call: a malformed one
        is refused alone (``bad_request``). If the ledger or the node fails, this raises the
        first such error; `decide_many` instead gives each request its own outcome."""
        outcomes = self.decide_many(requests)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        return [d for d in outcomes if isinstance(d, Decision)]

    def decide_many(self, requests: Sequence[Request]) -> list[Decision | Exception]:
        """`authorize_many`, but each request's outcome is its own: its `Decision`, or the
        exception that deciding it raised (e.g. the ledger was unavailable). The ledger call
        commits exactly the debits reported as allowed: a request whose debit raised is
        reported as that exception, and its debit was not applied (see `LedgerUnavailable`)."""
        outcomes: list[Decision | Exception | None] = [None] * len(requests)
        batch: list[tuple[int, _Priced]] = []
        for i, request in enumerate(requests):
            try:
                who, model, input_tokens, output_tokens, images = request
                if not isinstance(who, str) or who.startswith(KEY_PREFIX) or not self.wallets:
                    outcomes[i] = self.authorize(who, model, input_tokens, output_tokens, images)
                    continue
                priced = self._price(who, model, input_tokens, output_tokens, images, None)
            except (TypeError, ValueError, ArithmeticError):  # a malformed request: its own
                outcomes[i] = Decision(False, Reason.BAD_REQUEST)
                continue
            except Exception as exc:  # the ledger or the node: this request's failure only
                outcomes[i] = exc
                continue
            if isinstance(priced, Decision):
                outcomes[i] = priced
            else:
                batch.append((i, priced))
        if batch:
            try:
                debits = self.ledger.debit_many([(p.address, p.cost, p.limit) for _, p in batch])
            except Exception as exc:  # nothing of this call was applied: all of it failed
                for i, _ in batch:
                    outcomes[i] = exc
            else:
                for (i, priced), debit in zip(batch, debits, strict=True):
                    outcomes[i] = self._decide(priced, debit)
        return [d if d is not None else Decision(False, Reason.BAD_REQUEST) for d in outcomes]

    def _price(
        self,
        address: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        images: int,
        key_limit: int | None,
    ) -> _Priced | Decision:
        """The request's cost and the credit it may draw on, or the refusal."""
        try:
            cost = self.prices.price(model, input_tokens, output_tokens, images)
        except UnknownModel:
            return Decision(False, Reason.UNKNOWN_MODEL, address=address)
        except (ValueError, TypeError, ArithmeticError):
            return Decision(False, Reason.BAD_REQUEST, address=address)
        if cost > MAX_AMOUNT:  # more than any ledger holds: refused here, not raised by it
            return Decision(False, Reason.BAD_REQUEST, address=address)
        try:
            wallet_limit, source, pro, stale = self.credit(address)
        except EntitlementError as exc:
            return Decision(False, exc.code, address=address)
        limit = wallet_limit if key_limit is None else min(wallet_limit, key_limit)
        if limit == 0:  # (a key paused with a budget of 0 says so, not that the wallet has none)
            reason = Reason.NO_CREDIT if wallet_limit == 0 else Reason.KEY_LIMIT_REACHED
            return Decision(False, reason, address=address, cost=cost, pro=pro, stale=stale)
        return _Priced(address, cost, wallet_limit, limit, source, pro, stale)

    def _decide(
        self,
        priced: _Priced,
        debit: Debit,
        refusal: Reason = Reason.INSUFFICIENT_CREDIT,
        *,
        budget: tuple[int, int, int] | None = None,
        wallet: tuple[int, int] | None = None,
    ) -> Decision:
        """The decision from ``debit``. ``budget`` is the (spent, remaining, limit) reported,
        by default the wallet's from ``debit``; ``wallet`` the wallet's (spent, remaining), by
        default from ``debit``."""
        if debit.allowed:
            self._mark_active(priced.address)
        spent, remaining, limit = (
            (debit.spent, debit.remaining, priced.limit) if budget is None else budget
        )
        wallet_spent, wallet_remaining = (
            (debit.spent, debit.remaining) if wallet is None else wallet
        )
        return Decision(
            debit.allowed,
            Reason.OK if debit.allowed else refusal,
            address=priced.address,
            cost=priced.cost,
            spent=spent,
            remaining=remaining,
            daily_limit=limit,
            source=priced.source,
            pro=priced.pro,
            stale=priced.stale,
            wallet_spent=wallet_spent,
            wallet_remaining=wallet_remaining,
            wallet_daily_limit=priced.wallet_limit,
        )

    def activity_due(self, address: str) -> bool:
        """Whether a request of ``address`` now should note its activity (`_mark_active`)."""
        last = self._active_marked.get(address, float("-inf"))
        return float(self.ledger.clock()) - last >= ACTIVITY_RESOLUTION

    def _mark_active(self, address: str) -> None:
        """Note the wallet's activity (VCU mode). Best effort: the debit is already applied,
        so a failure here must not turn an allowed request into an error."""
        now = float(self.ledger.clock())
        if self.activity_due(address):
            try:
                self.ledger.record_activity(address)
            except Exception:
                _log.warning("could not record activity of %s", address, exc_info=True)
                return
            self._active_marked[address] = now
