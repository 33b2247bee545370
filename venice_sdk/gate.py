"""The per-request decision: may this caller be served, and what does it cost them.

`Gatekeeper.authorize(who, model, input_tokens, output_tokens, images)`:
1. `who` is a wallet address or an API key issued by `venice_sdk.auth.ApiKeyStore`; a key
   resolves to its wallet (a revoked or unknown key is refused).
2. The wallet's entitlement (cached, see `EntitlementClient`) gives today's credit: staked DIEM
   ($1 per DIEM, none under 0.1 DIEM), or in VCU mode its share of the daily capacity among
   active stakers; a key's own per-day limit caps it.
3. The request is priced from the `PriceBook` (micro-USD, rounded up) and debited from today's
   credit atomically by the `CreditLedger` (SQLite on one server, Redis across a fleet); the
   epoch rolls at 00:00 UTC.
4. The call is recorded as activity (VCU mode counts wallets active in the last 7 days).

Every refusal is a `Decision` with `allowed=False` and a machine-readable `reason`; nothing is
debited for a refused request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from venice_sdk.auth import KEY_PREFIX, AuthError, KeyStore
from venice_sdk.entitlements import EntitlementClient, EntitlementError
from venice_sdk.errors import Reason
from venice_sdk.ledger import MAX_AMOUNT, CreditLedger, Debit, LedgerUnavailable
from venice_sdk.pricing import PriceBook, UnknownModel

__all__ = [
    "ACTIVITY_RESOLUTION",
    "ActiveStake",
    "Decision",
    "Gatekeeper",
    "Request",
    "VcuPolicy",
]

ACTIVITY_RESOLUTION = 3_600  # seconds between activity writes for one wallet


@dataclass(frozen=True)
class Decision:
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
    (the real system refreshes allocations at 00:00 UTC) from the ledger's active wallets, in
    batches of 1,000 per `eth_call`."""

    def __init__(self, client: EntitlementClient, ledger: CreditLedger):
        self.client, self.ledger = client, ledger
        self._day: int | None = None
        self._total = 0

    def __call__(self) -> int:
        day = self.ledger.today()
        if day != self._day:
            wallets = [a for a in self.ledger.active_list() if not a.startswith(KEY_PREFIX)]
            total = 0
            for start in range(0, len(wallets), 1_000):
                total += sum(e.staked for e in self.client.get_many(wallets[start : start + 1_000]))
            self._day, self._total = day, total
        return self._total


class Gatekeeper:
    def __init__(
        self,
        client: EntitlementClient,
        ledger: CreditLedger,
        prices: PriceBook,
        keys: KeyStore | None = None,
        vcu: VcuPolicy | None = None,
    ):
        self.client, self.ledger, self.prices = client, ledger, prices
        self.keys, self.vcu = keys, vcu
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
        return limit, source, entitlement.is_pro, entitlement.stale

    def authorize(
        self,
        who: str,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        images: int = 0,
    ) -> Decision:
        key_limit: int | None = None
        address = who
        if who.startswith(KEY_PREFIX):
            if self.keys is None:
                return Decision(False, Reason.UNKNOWN_KEY)
            try:
                record = self.keys.resolve(who)
            except AuthError as exc:
                return Decision(False, exc.code)
            address, key_limit = record.address, record.daily_limit_micros
        priced = self._price(address, model, input_tokens, output_tokens, images, key_limit)
        if isinstance(priced, Decision):
            return priced
        remaining_cap: int | None = None
        if key_limit is not None:
            # A key's own per-day limit is metered per key, before the wallet's credit. If the
            # wallet then refuses, the key keeps the charge: in the protocol's favour, and the
            # wallet has no credit left today anyway.
            key_debit = self.ledger.debit(record.key_id, priced.cost, key_limit)
            if not key_debit.allowed:
                return self._decide(priced, key_debit, Reason.KEY_LIMIT_REACHED)
            remaining_cap = key_debit.remaining
        debit = self.ledger.debit(address, priced.cost, priced.wallet_limit)
        return self._decide(priced, debit, remaining_cap=remaining_cap)

    def authorize_many(self, requests: Sequence[Request]) -> list[Decision]:
        """Decide a batch of concurrent requests at once, in order, as `authorize` would one by
        one: the wallets' debits go to the ledger together (one SQLite transaction, one Redis
        pipeline of atomic scripts), which is what a server answering many requests at a time
        should use. Requests by API key are decided one by one (their key limit comes first)."""
        decisions: list[Decision | None] = [None] * len(requests)
        batch: list[tuple[int, _Priced]] = []
        for i, (who, model, input_tokens, output_tokens, images) in enumerate(requests):
            if who.startswith(KEY_PREFIX):
                decisions[i] = self.authorize(who, model, input_tokens, output_tokens, images)
                continue
            priced = self._price(who, model, input_tokens, output_tokens, images, None)
            if isinstance(priced, Decision):
                decisions[i] = priced
            else:
                batch.append((i, priced))
        debits = self.ledger.debit_many([(p.address, p.cost, p.wallet_limit) for _, p in batch])
        for (i, priced), debit in zip(batch, debits, strict=True):
            decisions[i] = self._decide(priced, debit)
        return [d for d in decisions if d is not None]

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
        except ValueError:
            return Decision(False, Reason.BAD_REQUEST, address=address)
        if cost > MAX_AMOUNT:  # more than any ledger holds: refused here, not raised by it
            return Decision(False, Reason.BAD_REQUEST, address=address)
        try:
            wallet_limit, source, pro, stale = self.credit(address)
        except EntitlementError as exc:
            return Decision(False, exc.code, address=address)
        limit = wallet_limit if key_limit is None else min(wallet_limit, key_limit)
        if limit == 0:
            return Decision(
                False, Reason.NO_CREDIT, address=address, cost=cost, pro=pro, stale=stale
            )
        return _Priced(address, cost, wallet_limit, limit, source, pro, stale)

    def _decide(
        self,
        priced: _Priced,
        debit: Debit,
        refusal: Reason = Reason.INSUFFICIENT_CREDIT,
        remaining_cap: int | None = None,
    ) -> Decision:
        if debit.allowed:
            self._mark_active(priced.address)
        remaining = (
            debit.remaining if remaining_cap is None else min(remaining_cap, debit.remaining)
        )
        return Decision(
            debit.allowed,
            Reason.OK if debit.allowed else refusal,
            address=priced.address,
            cost=priced.cost,
            spent=debit.spent,
            remaining=remaining,
            daily_limit=priced.limit,
            source=priced.source,
            pro=priced.pro,
            stale=priced.stale,
        )

    def _mark_active(self, address: str) -> None:
        now = float(self.ledger.clock())
        if now - self._active_marked.get(address, float("-inf")) >= ACTIVITY_RESOLUTION:
            try:
                self.ledger.record_activity(address)
            except LedgerUnavailable:
                # The debit is done and its caller must hear so: activity is best effort
                # (the next request writes it).
                return
            self._active_marked[address] = now
