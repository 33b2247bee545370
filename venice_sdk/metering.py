"""Metering by holds: reserve a request's worst case, settle at its actual cost.

`Metering` does for held requests what `Gatekeeper.authorize` does for priced ones: a wallet
address or API key (``vvk_...``) is resolved to its wallet, the wallet's credit today comes from
its entitlement, and the worst case is held on the ledger (`CreditLedger.reserve`) instead of
debited. When the request has run, `settle` debits what it actually cost (never more than the
hold) and `release` frees a hold whose request was not served. A key's own daily limit is held
and settled on the key too (request id ``<id>:k``), before the wallet, as `authorize` debits it.

Every refusal is a `Reservation` with ``allowed=False`` and a `Reason`; nothing is held for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from venice_sdk.auth import KEY_PREFIX, AuthError
from venice_sdk.entitlements import EntitlementError
from venice_sdk.errors import Reason
from venice_sdk.gate import Gatekeeper
from venice_sdk.ledger import Hold, HoldError, Settlement, check_request_id

__all__ = ["KEY_HOLD_SUFFIX", "MAX_REQUEST_ID", "Metering", "Reservation"]

#: A key's own hold has the request's id plus this suffix.
KEY_HOLD_SUFFIX = ":k"
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
    key_hold: Hold | None = None  # the hold on the key's own limit, if it has one


class Metering:
    """Holds for a `Gatekeeper`'s callers (its ledger, entitlements and key store)."""

    def __init__(self, gate: Gatekeeper) -> None:
        self.gate = gate

    def reserve(self, who: str, request_id: str, max_cost: int) -> Reservation:
        """Hold ``max_cost`` micro-USD of ``who``'s credit today for request ``request_id``.

        Idempotent by ``request_id`` like `CreditLedger.reserve`. Raises `LedgerUnavailable`
        if the ledger cannot be reached, `ValueError` / `TypeError` for a malformed id or cost.
        """
        _check_id(request_id)
        gate = self.gate
        key_id: str | None = None
        key_limit: int | None = None
        address = who
        if who.startswith(KEY_PREFIX):
            if gate.keys is None:
                return Reservation(False, Reason.UNKNOWN_KEY, request_id)
            try:
                record = gate.keys.resolve(who)
            except AuthError as exc:
                return Reservation(False, exc.code, request_id)
            address, key_id, key_limit = record.address, record.key_id, record.daily_limit_micros
        try:
            wallet_limit, source, pro, stale = gate.credit(address)
        except EntitlementError as exc:
            return Reservation(False, exc.code, request_id, address=address)
        limit = wallet_limit if key_limit is None else min(wallet_limit, key_limit)
        if limit == 0:
            return Reservation(
                False, Reason.NO_CREDIT, request_id, address, key_id, pro=pro, stale=stale
            )
        cap: int | None = None
        key_hold: Hold | None = None
        if key_id is not None and key_limit is not None:
            key_hold = gate.ledger.reserve(
                key_id, max_cost, key_limit, request_id + KEY_HOLD_SUFFIX
            )
            if not key_hold.allowed:
                return _refused(Reason.KEY_LIMIT_REACHED, request_id, key_hold, address,
                                key_id, limit, source, pro, stale)  # fmt: skip
            cap = key_hold.remaining
        hold = gate.ledger.reserve(address, max_cost, wallet_limit, request_id)
        if not hold.allowed:
            if key_hold is not None:
                gate.ledger.release(key_hold)
            return _refused(Reason.INSUFFICIENT_CREDIT, request_id, hold, address, key_id,
                            limit, source, pro, stale)  # fmt: skip
        gate._mark_active(address)
        remaining = hold.remaining if cap is None else min(cap, hold.remaining)
        return Reservation(
            True, Reason.OK, request_id, address, key_id, hold.amount, hold.spent, hold.held,
            remaining, limit, source, pro, stale, hold.expires_at, hold, key_hold,
        )  # fmt: skip

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
        on_key: Settlement | None = None
        if _may_have_key_hold(hold):
            try:
                on_key = self.gate.ledger.settle(_key_ref(ref), actual_cost)
            except HoldError as exc:
                if exc.code != Reason.UNKNOWN_HOLD:  # no key hold: a request by wallet
                    raise
        return done, on_key

    def release(self, hold: Reservation | Hold | str) -> Hold:
        """Free a hold without debiting anything (on the wallet and on its key)."""
        ref = _ref(hold)
        freed = self.gate.ledger.release(ref)
        if _may_have_key_hold(hold):
            try:
                self.gate.ledger.release(_key_ref(ref))
            except HoldError as exc:
                if exc.code != Reason.UNKNOWN_HOLD:
                    raise
        return freed


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


def _may_have_key_hold(hold: Reservation | Hold | str) -> bool:
    """Whether a key hold may go with ``hold`` (a `Reservation` knows; an id or a wallet's
    `Hold` alone does not, and the key hold is looked up)."""
    return not isinstance(hold, Reservation) or hold.key_hold is not None


def _key_ref(ref: Hold | str) -> str:
    return (ref.request_id if isinstance(ref, Hold) else ref) + KEY_HOLD_SUFFIX


def _refused(
    reason: Reason,
    request_id: str,
    hold: Hold,
    address: str,
    key_id: str | None,
    limit: int,
    source: str,
    pro: bool,
    stale: bool,
) -> Reservation:
    return Reservation(
        False, reason, request_id, address, key_id, 0, hold.spent, hold.held,
        hold.remaining, limit, source, pro, stale,
    )  # fmt: skip
