"""The sidecar's key management for a wallet: list its keys, revoke one, change a key's budgets.

Every route takes ``Authorization: Bearer vvk_...`` with an **admin** key of the wallet: the key
a SIWE sign-in (``POST /v1/auth/siwe``) returns, or one issued with ``kind: "admin"`` by a
signed challenge (``POST /v1/auth/keys``). The wallet is the admin key's, so a wallet only ever
sees or changes its own keys: another wallet's key id answers 404 ``unknown_key``, exactly as a
key id that does not exist. An inference key is refused 403 ``admin_key_required``; an unknown,
revoked or expired bearer 401. Answers carry ids, labels and metadata, never a key (a store
keeps only hashes).

- ``GET /v1/auth/keys``: the wallet's keys, revoked ones included, oldest first.
- ``DELETE /v1/auth/keys/{key_id}``: revoke one (idempotent).
- ``PUT /v1/auth/keys/{key_id}/budgets``: ``{"daily_limit_micros", "monthly_limit_micros"}``
  (null: no limit), applied from the next request, without reissuing the key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from venice_sdk.auth import AuthError, KeyRecord, KeyStore
from venice_sdk.errors import Reason
from venice_sdk.ledger import MAX_AMOUNT
from venice_sdk.server.models import _error as _documented
from venice_sdk.server.models import _Strict, responses

__all__ = ["BudgetRequest", "KeyInfo", "KeyListResponse", "keys_router"]

#: The status of each refusal of these routes.
_STATUS = {
    Reason.UNKNOWN_KEY: 401,
    Reason.KEY_REVOKED: 401,
    Reason.KEY_EXPIRED: 401,
    Reason.INVALID_API_KEY: 401,
    Reason.ADMIN_KEY_REQUIRED: 403,
}


class KeyInfo(BaseModel):
    """A key's metadata (never the key)."""

    key_id: str
    address: str
    kind: str = Field(description="inference or admin")
    label: str | None
    created_at: float
    expires_at: float | None
    revoked: bool
    models: list[str] | None = Field(description="the only models it may use; null: every one")
    daily_limit_micros: int | None
    monthly_limit_micros: int | None = Field(description="per UTC calendar month")


class KeyListResponse(BaseModel):
    keys: list[KeyInfo]


class BudgetRequest(_Strict):
    daily_limit_micros: int | None = Field(..., ge=0, le=MAX_AMOUNT)
    monthly_limit_micros: int | None = Field(..., ge=0, le=MAX_AMOUNT)


def _refuse(code: Reason, message: str, status: int | None = None) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message}, status_code=status or _STATUS.get(code, 400)
    )


def keys_router(keys: KeyStore) -> APIRouter:
    """The routes above over ``keys``."""
    router = APIRouter()
    answers = responses(internal=False, chain=False)
    answers[401] = _documented(
        "No valid bearer key",
        [Reason.INVALID_API_KEY, Reason.UNKNOWN_KEY, Reason.KEY_REVOKED, Reason.KEY_EXPIRED],
    )
    answers[403] = _documented("An inference key", [Reason.ADMIN_KEY_REQUIRED])
    answers[404] = _documented("Not a key of this wallet", [Reason.UNKNOWN_KEY])
    answers[503] = _documented("The key store is down", [Reason.KEY_STORE_UNAVAILABLE])

    def admin(authorization: str | None) -> KeyRecord:
        """The caller's admin key (AuthError otherwise)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(Reason.INVALID_API_KEY, "send 'Authorization: Bearer vvk_...'")
        record = keys.resolve(token.strip())
        if record.kind != "admin":
            raise AuthError(
                Reason.ADMIN_KEY_REQUIRED,
                "an inference key cannot manage keys: use an admin key (e.g. a SIWE sign-in)",
            )
        return record

    def own(caller: KeyRecord, key_id: str) -> KeyRecord:
        """``key_id``'s record if it is the caller's wallet's (404 ``unknown_key`` if not)."""
        try:
            record = keys.get(key_id)
        except AuthError:
            record = None
        if record is None or record.address != caller.address:
            raise _NotYours(key_id)
        return record

    def answer(call: Any) -> Any:
        try:
            return call()
        except _NotYours as exc:
            return _refuse(Reason.UNKNOWN_KEY, f"{exc.key_id} is not a key of this wallet", 404)
        except AuthError as exc:
            return _refuse(exc.code, exc.message, 503 if exc.code == Reason.KEY_STORE_UNAVAILABLE
                           else None)  # fmt: skip

    bearer = Header(None, max_length=256)
    key_id_path = Path(max_length=64)

    @router.get("/v1/auth/keys", response_model=KeyListResponse, responses=answers)
    def list_keys(authorization: str | None = bearer) -> Any:
        return answer(
            lambda: {"keys": [r.public() for r in keys.list(admin(authorization).address)]}
        )

    @router.delete("/v1/auth/keys/{key_id}", response_model=KeyInfo, responses=answers)
    def revoke(key_id: str = key_id_path, authorization: str | None = bearer) -> Any:
        return answer(lambda: keys.revoke(own(admin(authorization), key_id).key_id).public())

    @router.put("/v1/auth/keys/{key_id}/budgets", response_model=KeyInfo, responses=answers)
    def budgets(
        body: BudgetRequest, key_id: str = key_id_path, authorization: str | None = bearer
    ) -> Any:
        def change() -> Any:
            record = own(admin(authorization), key_id)
            return keys.set_budgets(
                record.key_id, body.daily_limit_micros, body.monthly_limit_micros
            ).public()

        return answer(change)

    return router


class _NotYours(Exception):
    def __init__(self, key_id: str) -> None:
        super().__init__(key_id)
        self.key_id = key_id
