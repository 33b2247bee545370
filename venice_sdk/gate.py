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

from venice_sdk.auth import ApiKeyStore, AuthError
from venice_sdk.entitlements import EntitlementClient, EntitlementError
from venice_sdk.ledger import CreditLedger
from venice_sdk.pricing import PriceBook, UnknownModel

KEY_PREFIX = "vvk_"
ACTIVITY_RESOLUTION = 3_600  # seconds between activity writes for one wallet


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "ok" or why not
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
        keys: ApiKeyStore | None = None,
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
        account = who
        if who.startswith(KEY_PREFIX):
            if self.keys is None:
                return Decision(False, "unknown_key")
            try:
                record = self.keys.resolve(who)
            except AuthError as exc:
                return Decision(False, exc.code)
            address, key_limit, account = record.address, record.daily_limit_micros, record.key_id
        else:
            address = who
        try:
            cost = self.prices.price(model, input_tokens, output_tokens, images)
        except UnknownModel:
            return Decision(False, "unknown_model", address=address)
        except ValueError:
            return Decision(False, "bad_request", address=address)
        try:
            limit, source, pro, stale = self.credit(address)
        except EntitlementError as exc:
            return Decision(False, exc.code, address=address)
        wallet_limit = limit
        if key_limit is not None:
            limit = min(limit, key_limit)
        if limit == 0:
            return Decision(False, "no_credit", address=address, cost=cost, pro=pro, stale=stale)
        remaining_cap: int | None = None
        if key_limit is not None:
            # A key's own per-day limit is metered per key, before the wallet's credit. If the
            # wallet then refuses, the key keeps the charge: in the protocol's favour, and the
            # wallet has no credit left today anyway.
            key_debit = self.ledger.debit(account, cost, key_limit)
            if not key_debit.allowed:
                return Decision(
                    False,
                    "key_limit_reached",
                    address=address,
                    cost=cost,
                    spent=key_debit.spent,
                    remaining=key_debit.remaining,
                    daily_limit=limit,
                    source=source,
                    pro=pro,
                    stale=stale,
                )
            remaining_cap = key_debit.remaining
        debit = self.ledger.debit(address, cost, wallet_limit)
        if debit.allowed:
            self._mark_active(address)
        remaining = (
            debit.remaining if remaining_cap is None else min(remaining_cap, debit.remaining)
        )
        return Decision(
            debit.allowed,
            "ok" if debit.allowed else "insufficient_credit",
            address=address,
            cost=cost,
            spent=debit.spent,
            remaining=remaining,
            daily_limit=limit,
            source=source,
            pro=pro,
            stale=stale,
        )

    def authorize_many(self, requests: Sequence[Request]) -> list[Decision]:
        """Decide a batch of concurrent requests at once, in order, as `authorize` would one by
        one: the wallets' debits go to the ledger together (one SQLite transaction, one Redis
        pipeline of atomic scripts), which is what a server answering many requests at a time
        should use. Requests by API key are decided one by one (their key limit comes first)."""
        decisions: list[Decision | None] = [None] * len(requests)
        batch: list[tuple[int, str, int, int, str, bool, bool]] = []
        for i, request in enumerate(requests):
            who, model, input_tokens, output_tokens, images = request
            if who.startswith(KEY_PREFIX):
                decisions[i] = self.authorize(who, model, input_tokens, output_tokens, images)
                continue
            try:
                cost = self.prices.price(model, input_tokens, output_tokens, images)
            except UnknownModel:
                decisions[i] = Decision(False, "unknown_model", address=who)
                continue
            except ValueError:
                decisions[i] = Decision(False, "bad_request", address=who)
                continue
            try:
                limit, source, pro, stale = self.credit(who)
            except EntitlementError as exc:
                decisions[i] = Decision(False, exc.code, address=who)
                continue
            if limit == 0:
                decisions[i] = Decision(
                    False, "no_credit", address=who, cost=cost, pro=pro, stale=stale
                )
                continue
            batch.append((i, who, cost, limit, source, pro, stale))
        debits = self.ledger.debit_many([(who, cost, limit) for _, who, cost, limit, *_ in batch])
        for (i, who, cost, limit, source, pro, stale), debit in zip(batch, debits, strict=True):
            if debit.allowed:
                self._mark_active(who)
            decisions[i] = Decision(
                debit.allowed,
                "ok" if debit.allowed else "insufficient_credit",
                address=who,
                cost=cost,
                spent=debit.spent,
                remaining=debit.remaining,
                daily_limit=limit,
                source=source,
                pro=pro,
                stale=stale,
            )
        return [d for d in decisions if d is not None]

    def _mark_active(self, address: str) -> None:
        now = float(self.ledger.clock())
        if now - self._active_marked.get(address, float("-inf")) >= ACTIVITY_RESOLUTION:
            self.ledger.record_activity(address)
            self._active_marked[address] = now
