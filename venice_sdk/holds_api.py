"""The sidecar's holds: ``POST /v1/reserve``, ``/v1/settle``, ``/v1/release`` and ``/v1/renew``,
for inference servers not written in Python that bill the actual usage of a request (reserve its
worst case, serve it, settle at what it cost). A hold is a lease: a request served for longer
than the hold's TTL is renewed while it runs, so only the hold of a server that died expires.

``create_app`` includes `holds_router`. Money is integer micro-USD. A refused reserve is a 200
with ``allowed: false`` and a ``reason`` (as ``/v1/authorize``); a settle, release or renew that
cannot apply is a 409 with a ``code`` (``hold_released``, ``hold_settled``, ``hold_expired``,
``unknown_hold``, ``request_id_reused``) and changes nothing; an unreachable ledger or node is a
503 (fail closed: serve nothing); malformed input is a 422 (FastAPI's validation) or a 400.
Every call is idempotent by ``request_id``, so a client may retry any of them after a timeout.
With a usage store, a settle also writes the request's usage record (once per request id; a
record that cannot be written is a 503 whose retry writes it without debiting again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from venice_sdk.auth import KEY_PREFIX, AuthError
from venice_sdk.errors import Reason
from venice_sdk.gate import Gatekeeper
from venice_sdk.ledger import (
    MAX_AMOUNT,
    Hold,
    HoldError,
    LedgerUnavailable,
    Settlement,
    normalize_account,
)
from venice_sdk.metering import MAX_REQUEST_ID, Metering, Reservation
from venice_sdk.pricing import UnknownModel
from venice_sdk.server.models import _error as _documented
from venice_sdk.server.models import responses
from venice_sdk.usage import UsageRecord, UsageStore

__all__ = [
    "ReleaseRequest",
    "RenewRequest",
    "ReserveRequest",
    "SettleRequest",
    "holds_router",
    "reservation_json",
    "settlement_json",
]

RequestId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_REQUEST_ID,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="The caller's id of the request (a UUID ...): 1-120 of [A-Za-z0-9._-]",
    ),
]
Micros = Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
Count = Annotated[int, Field(ge=0, le=10**9)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ReserveRequest(_Strict):
    who: str = Field(max_length=256, description="A wallet address or an API key (vvk_...)")
    request_id: RequestId
    max_cost_micros: Micros | None = Field(None, description="The worst case, in micro-USD")
    model: str | None = Field(None, max_length=200, description="Or: price the worst case")
    input_tokens: Count = 0
    output_tokens: Count = Field(0, description="The most the request may generate")
    images: Count = 0

    @model_validator(mode="after")
    def _one_way(self) -> ReserveRequest:
        if (self.max_cost_micros is None) == (self.model is None):
            raise ValueError("give either max_cost_micros or model (with token counts)")
        return self


class SettleRequest(_Strict):
    request_id: RequestId
    actual_cost_micros: Micros
    # What the request used, for its usage record (none of it changes the debit).
    who: str | None = Field(None, max_length=256, description="The reserve's key (its key id)")
    model: str | None = Field(None, max_length=200)
    input_tokens: Count = 0
    output_tokens: Count = 0
    images: Count = 0
    outcome: Literal["complete", "disconnected", "upstream_failed"] = "complete"


class ReleaseRequest(_Strict):
    request_id: RequestId


class RenewRequest(_Strict):
    request_id: RequestId


def _error(code: Reason, message: str, status: int) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _unavailable(exc: Exception) -> JSONResponse:
    return _error(Reason.LEDGER_UNAVAILABLE, f"ledger unavailable: {exc}", 503)


def _hold_json(hold: Hold, amount: str) -> dict[str, Any]:
    """A hold as a route answers it, its amount under the name ``amount``."""
    return {"request_id": hold.request_id, "address": hold.account, "state": hold.state,
            amount: hold.amount}  # fmt: skip


def _on_hold(call: Callable[[str], Hold], request_id: str) -> Hold | JSONResponse:
    """``call`` on the holds of ``request_id``, or the answer to its refusal (a 409 with the
    hold's ``code``, a 503 if the ledger is unavailable)."""
    try:
        return call(request_id)
    except HoldError as exc:
        return _error(exc.code, exc.message, 409)
    except LedgerUnavailable as exc:
        return _unavailable(exc)


def reservation_json(r: Reservation) -> dict[str, Any]:
    return {
        "allowed": r.allowed,
        "reason": r.reason,
        "request_id": r.request_id,
        "state": r.hold.state if r.hold is not None else "refused",
        "address": r.address,
        "held_micros": r.amount,
        "spent_micros": r.spent,
        "held_total_micros": r.held,
        "remaining_micros": r.remaining,
        "daily_limit_micros": r.daily_limit,
        "expires_at": r.expires_at,
        "source": r.source,
        "pro": r.pro,
        "stale": r.stale,
    }


def settlement_json(s: Settlement) -> dict[str, Any]:
    return {
        "request_id": s.request_id,
        "address": s.account,
        "day": s.day,
        "cost_micros": s.cost,
        "requested_micros": s.requested,
        "held_micros": s.held,
        "released_micros": s.released,
        "capped": s.capped,
        "spent_micros": s.spent,
        "remaining_micros": s.remaining,
    }


def _key_id(
    gate: Gatekeeper, who: str | None, wallet: str, on_key: Settlement | None
) -> str | None:
    """The key id of a settled request: its key hold's, else the ``who`` it names (a key of
    the settled wallet), else None (a request by wallet)."""
    if on_key is not None:
        return on_key.account
    if who is None or not who.startswith(KEY_PREFIX) or gate.keys is None:
        return None
    try:
        record = gate.keys.resolve(who)
    except AuthError:
        return None
    return record.key_id if normalize_account(record.address) == wallet else None


def holds_router(
    gate: Gatekeeper, usage_store: UsageStore | None = None, *, allow_wallets: bool = False
) -> APIRouter:
    """The four hold routes over ``gate``'s ledger, entitlements and keys; with a
    ``usage_store``, each settle writes the request's usage record (once per request id).
    ``/v1/reserve`` takes an API key; a bare wallet address only with ``allow_wallets`` (the
    sidecar's ``--allow-wallet-authorize``, as for ``/v1/authorize``): anyone who knows an
    address could otherwise hold, and spend, its credit."""
    metering = Metering(gate)
    router = APIRouter(tags=["holds"])
    answers = responses(internal=True, chain=True)
    answers[409] = _documented(
        "The hold is not in a state that allows this",
        [
            Reason.UNKNOWN_HOLD,
            Reason.HOLD_SETTLED,
            Reason.HOLD_RELEASED,
            Reason.HOLD_EXPIRED,
            Reason.REQUEST_ID_REUSED,
        ],
    )
    answers[503] = _documented(
        "A dependency is down", [Reason.RPC_UNAVAILABLE, Reason.LEDGER_UNAVAILABLE]
    )
    reserve_answers = {
        **answers,
        400: _documented("Refused", [Reason.UNKNOWN_MODEL, Reason.BAD_REQUEST]),
    }

    @router.post("/v1/reserve", responses=reserve_answers)
    def reserve(body: ReserveRequest) -> Any:
        if not (allow_wallets and gate.wallets) and not body.who.startswith(KEY_PREFIX):
            refused = Reservation(False, Reason.WALLET_NOT_ALLOWED, body.request_id)
            return reservation_json(refused)
        cost = body.max_cost_micros
        if cost is None:
            try:
                cost = gate.prices.price(
                    body.model or "", body.input_tokens, body.output_tokens, body.images
                )
            except UnknownModel as exc:
                return _error(Reason.UNKNOWN_MODEL, str(exc), 400)
            if cost > MAX_AMOUNT:
                return _error(Reason.BAD_REQUEST, "the worst case is more than a ledger holds", 400)
        try:
            reservation = metering.reserve(body.who, body.request_id, cost, body.model)
        except HoldError as exc:
            return _error(exc.code, exc.message, 409)
        except LedgerUnavailable as exc:
            return _unavailable(exc)
        if reservation.reason == Reason.RPC_UNAVAILABLE:
            return _error(Reason.RPC_UNAVAILABLE, "the node could not be read", 503)
        return reservation_json(reservation)

    @router.post("/v1/settle", responses=answers)
    def settle(body: SettleRequest) -> Any:
        try:
            done, on_key = metering.settle_both(body.request_id, body.actual_cost_micros)
        except HoldError as exc:
            return _error(exc.code, exc.message, 409)
        except LedgerUnavailable as exc:
            return _unavailable(exc)
        if usage_store is not None:
            # After the debit, every time: a retry of a settle whose record failed writes it;
            # one whose record was written writes nothing (recording is idempotent by id).
            record = UsageRecord(
                request_id=body.request_id,
                key_id=_key_id(gate, body.who, normalize_account(done.account), on_key),
                wallet=normalize_account(done.account),
                model=body.model or "",
                input_tokens=body.input_tokens,
                output_tokens=body.output_tokens,
                images=body.images,
                cost=done.cost,
                hold=done.held,
                time=float(gate.ledger.clock()),
                day=done.day,
                outcome=body.outcome,
            )
            try:
                usage_store.record(record)
            except LedgerUnavailable as exc:
                return _error(
                    Reason.LEDGER_UNAVAILABLE,
                    f"settled, but the usage record could not be written (retry): {exc}",
                    503,
                )
        return settlement_json(done)

    @router.post("/v1/release", responses=answers)
    def release(body: ReleaseRequest) -> Any:
        hold = _on_hold(metering.release, body.request_id)
        return hold if isinstance(hold, JSONResponse) else _hold_json(hold, "released_micros")

    @router.post("/v1/renew", responses=answers)
    def renew(body: RenewRequest) -> Any:
        hold = _on_hold(metering.renew, body.request_id)  # the wallet's hold and its key's
        if isinstance(hold, JSONResponse):
            return hold
        return {**_hold_json(hold, "held_micros"), "expires_at": hold.expires_at}

    return router
