"""Metering by holds: reserve a request's worst case, settle at its actual cost.

`Metering` does for held requests what `Gatekeeper.authorize` does for priced ones: a wallet
address or API key (``vvk_...``) is resolved to its wallet, the wallet's credit today comes from
its entitlement, and the worst case is held on the ledger (`CreditLedger.reserve`) instead of
debited. When the request has run, `settle` debits what it actually cost (never more than the
hold) and `release` frees a hold whose request was not served. A key's own daily and monthly
budgets are held and settled on the key too (request ids ``<id>:k`` and ``<id>:m``, `KeyHolds`),
before the wallet, as `authorize` does; a refusal releases every hold it took.

Every refusal is a `Reservation` with ``allowed=False`` and a `Reason`; nothing is held for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from venice_sdk.auth import KEY_PREFIX, AuthError, KeyRecord
from venice_sdk.auth.key_store import check_model
from venice_sdk.entitlements import EntitlementError
from venice_sdk.errors import Reason
from venice_sdk.gate import KEY_HOLD_SUFFIX, MONTH_HOLD_SUFFIX, Gatekeeper, KeyHolds, has_budget
from venice_sdk.ledger import Hold, HoldError, Settlement, check_request_id

__all__ = ["KEY_HOLD_SUFFIX", "MAX_REQUEST_ID", "Metering", "Plan", "Reservation"]

_log = logging.getLogger("venice_sdk.metering")

#: Longest request id `Metering` accepts (the ledger's 128, less the key suffix).
MAX_REQUEST_ID = 120


@dataclass(frozen=True)
class Reservation:
    """The outcome of `Metering.reserve`: the wallet's hold, or why nothing was held.

    ``amount`` is the credit held; ``spent`` and ``held`` are the wallet's settled spend and
    live holds today after the call, ``remaining`` what it may still reserve or spend today
    (capped by the key's own limit).
    """

    allowed: bool
    reason: Reason
    request_id: str
    address: str | None = None
    key_id: str | None = None
    amount: int = 0
    spent: int = 0
    held: int = 0
    remaining: int = 0
    daily_limit: int = 0
    source: str = "none"
    pro: bool = False
    stale: bool = False
    expires_at: float = 0.0
    hold: Hold | None = None
    key_hold: Hold | None = None  # the hold on the key's own daily limit, if it has one
    month_hold: Hold | None = None  # the hold on the key's monthly budget, if it has one


class Metering:
    """Holds for a `Gatekeeper`'s callers (its ledger, entitlements and key store)."""

    def __init__(self, gate: Gatekeeper) -> None:
        self.gate = gate

    def reserve(
        self,
        who: str,
        request_id: str,
        max_cost: int,
        model: str | None = None,
        *,
        record: KeyRecord | None = None,
    ) -> Reservation:
        """Hold ``max_cost`` micro-USD of ``who``'s credit today for request ``request_id``.

        A key with a model allowlist is refused ``model_not_allowed`` unless ``model`` is
        given and named in it (the sidecar's ``/v1/reserve`` passes the model when it prices
        the request; reserve by model for such keys). Idempotent by ``request_id`` like
        `CreditLedger.reserve`. Raises `LedgerUnavailable` if the ledger cannot be reached,
        `ValueError` / `TypeError` for a malformed id or cost. ``record``: the key ``who``
        as its caller has just resolved it (not looked up again).
        """
        plan = self.plan(who, request_id, model, record=record)
        assert plan is not None
        if isinstance(plan, Reservation):
            return plan
        gate = self.gate
        holds = KeyHolds()
        if plan.record is not None and has_budget(plan.record):
            holds = KeyHolds.take(gate.ledger, plan.record, max_cost, request_id)
            if holds.refused is not None:
                return plan.refused(holds.reason, request_id, holds.refused)
        try:
            hold = gate.ledger.reserve(plan.address, max_cost, plan.wallet_limit, request_id)
        except BaseException:
            holds.release(gate.ledger)
            raise
        if not hold.allowed:
            holds.release(gate.ledger)
        else:
            gate._mark_active(plan.address)
        return plan.held(request_id, hold, holds)

    def plan(
        self,
        who: str,
        request_id: str,
        model: str | None = None,
        *,
        cached_only: bool = False,
        record: KeyRecord | None = None,
    ) -> Plan | Reservation | None:
        """Who pays for request ``request_id`` and how much it may hold (a `Plan`), or the
        `Reservation` refusing it before anything is held. With ``cached_only``, None when the
        wallet's entitlement is not cached (reading it would be a call to the chain).
        ``record``: the key ``who`` as the caller has just resolved it (one lookup less)."""
        _check_id(request_id)
        gate = self.gate
        key_id: str | None = None
        key_limit: int | None = None
        address = who
        if who.startswith(KEY_PREFIX):
            if gate.keys is None:
                return Reservation(False, Reason.UNKNOWN_KEY, request_id)
            try:
                if record is None:
                    record = gate.keys.resolve(who)
                check_model(record, model)  # a key with an allowlist needs the model
            except AuthError as exc:
                return Reservation(False, exc.code, request_id)
            address, key_id, key_limit = record.address, record.key_id, record.daily_limit_micros
        elif not gate.wallets:  # (as `Gatekeeper.authorize`: only API keys may spend)
            return Reservation(False, Reason.WALLET_NOT_ALLOWED, request_id)
        if cached_only and (gate.vcu is not None or gate.client.cached(address) is None):
            return None
        try:
            wallet_limit, source, pro, stale = gate.credit(address)
        except EntitlementError as exc:
            return Reservation(False, exc.code, request_id, address=address)
        limit = wallet_limit if key_limit is None else min(wallet_limit, key_limit)
        if limit == 0:  # (a key paused with a budget of 0 says so, not that the wallet has none)
            reason = Reason.NO_CREDIT if wallet_limit == 0 else Reason.KEY_LIMIT_REACHED
            return Reservation(False, reason, request_id, address, key_id, pro=pro, stale=stale)
        return Plan(address, key_id, record, wallet_limit, limit, source, pro, stale)

    def settle(self, hold: Reservation | Hold | str, actual_cost: int) -> Settlement:
        """Debit a held request's actual cost (capped at the hold), on the wallet and on its
        key; retrying returns the same `Settlement`. Raises `HoldError` (with its ``code``) for
        a released, expired or unknown hold."""
        return self.settle_both(hold, actual_cost)[0]

    def settle_both(
        self, hold: Reservation | Hold | str, actual_cost: int
    ) -> tuple[Settlement, Settlement | None]:
        """`settle`, also returning the key's own settlement (its ``account`` is the key id;
        None: the request held nothing on a key)."""
        ref = _ref(hold)
        done = self.gate.ledger.settle(ref, actual_cost)
        on_key: Settlement | None = None  # the daily key hold's, else the monthly one's
        for key_ref in _key_refs(hold, ref):
            try:
                settled = self.gate.ledger.settle(key_ref, actual_cost)
            except HoldError as exc:
                if exc.code == Reason.HOLD_EXPIRED:
                    # Taken a moment before the wallet's, it expired first: the wallet's hold
                    # paid (raising would have the caller debit the request again, as if that
                    # one had gone too). The key's budget misses this charge, as when both go.
                    _log.warning("%s settled after its key's hold expired", key_ref)
                elif exc.code != Reason.UNKNOWN_HOLD:  # no key hold: a request by wallet
                    raise
            else:
                on_key = on_key or settled
        return done, on_key

    def renew(self, hold: Reservation | Hold | str) -> Hold:
        """Renew a held request's holds (the wallet's and its key's) for another ``hold_ttl``:
        the lease of a request still being served, so that only a hold whose server died
        expires. Raises `HoldError` if a hold is no longer live."""
        return self._both(hold, self.gate.ledger.renew)

    def release(self, hold: Reservation | Hold | str) -> Hold:
        """Free a hold without debiting anything (on the wallet and on its key)."""
        return self._both(hold, self.gate.ledger.release)

    @staticmethod
    def _both(hold: Reservation | Hold | str, call: Callable[[Hold | str], Hold]) -> Hold:
        """``call`` on the wallet's hold, then on its key's (none: a request by wallet)."""
        ref = _ref(hold)
        done = call(ref)
        for key_ref in _key_refs(hold, ref):
            try:
                call(key_ref)
            except HoldError as exc:
                if exc.code != Reason.UNKNOWN_HOLD:
                    raise
        return done


@dataclass(frozen=True)
class Plan:
    """Who pays for a request, before anything is held: the wallet, the key (if any), the
    wallet's credit today (``wallet_limit``) and what this request may draw on (``limit``:
    capped by the key's own daily limit)."""

    address: str
    key_id: str | None
    record: KeyRecord | None
    wallet_limit: int
    limit: int
    source: str
    pro: bool
    stale: bool

    def refused(self, reason: Reason, request_id: str, hold: Hold) -> Reservation:
        """The refusal of a hold that was refused (nothing held)."""
        return Reservation(
            False, reason, request_id, self.address, self.key_id, 0, hold.spent, hold.held,
            hold.remaining, self.limit, self.source, self.pro, self.stale,
        )  # fmt: skip

    def held(self, request_id: str, hold: Hold, holds: KeyHolds | None = None) -> Reservation:
        """The `Reservation` of the wallet's ``hold`` (and the key's ``holds``)."""
        if not hold.allowed:
            return self.refused(Reason.INSUFFICIENT_CREDIT, request_id, hold)
        holds = holds or KeyHolds()
        budgets = [h.remaining for h in (holds.daily, holds.monthly) if h is not None]
        remaining = min([hold.remaining, *budgets])
        return Reservation(
            True, Reason.OK, request_id, self.address, self.key_id, hold.amount, hold.spent,
            hold.held, remaining, self.limit, self.source, self.pro, self.stale,
            hold.expires_at, hold, holds.daily, holds.monthly,
        )  # fmt: skip


def _check_id(request_id: str) -> None:
    check_request_id(request_id)
    if len(request_id) > MAX_REQUEST_ID:
        raise ValueError(f"request_id must be at most {MAX_REQUEST_ID} characters")


def _ref(hold: Reservation | Hold | str) -> Hold | str:
    if isinstance(hold, Reservation):
        if hold.hold is None:
            raise HoldError(Reason.UNKNOWN_HOLD, f"request {hold.request_id} holds nothing")
        return hold.hold
    if isinstance(hold, str):
        _check_id(hold)
    return hold


def _key_refs(hold: Reservation | Hold | str, ref: Hold | str) -> list[str]:
    """The key holds that may go with ``hold``: a `Reservation` knows which it has; an id or a
    wallet's `Hold` alone does not, and both are looked up."""
    rid = ref.request_id if isinstance(ref, Hold) else ref
    if isinstance(hold, Reservation):
        return [h.request_id for h in (hold.key_hold, hold.month_hold) if h is not None]
    return [rid + KEY_HOLD_SUFFIX, rid + MONTH_HOLD_SUFFIX]
