"""The sidecar's request and response models: strict types (no ``"10"`` or ``true`` where an
integer is expected), every string bounded, every integer bounded by what a ledger holds. They
also type the OpenAPI spec, with every error answer listed per route (`responses`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from venice_sdk.auth.key_store import MAX_EXPIRES_AT
from venice_sdk.errors import Reason
from venice_sdk.ledger import MAX_AMOUNT

__all__ = [
    "MAX_COUNT",
    "AuthorizeRequest",
    "ChallengeRequest",
    "ChallengeResponse",
    "DecisionResponse",
    "EntitlementResponse",
    "ErrorResponse",
    "HealthResponse",
    "KeyRequest",
    "KeyResponse",
    "NonceResponse",
    "RevokeResponse",
    "SiweRequest",
    "SiweResponse",
    "ValidationErrorResponse",
    "responses",
]

#: The largest token or image count of one request (a 64-bit integer).
MAX_COUNT = 2**63 - 1
_ADDRESS = 64  # a 0x address is 42 characters; a little slack for a clear "malformed" answer
_SIGNATURE = 200  # 65 bytes in hex is 132 characters
_KEY = 200


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class AuthorizeRequest(_Strict):
    who: StrictStr = Field(
        min_length=1,
        max_length=_KEY,
        description="An API key (vvk_...); a wallet address only if the server allows it",
    )
    model: StrictStr = Field(min_length=1, max_length=200)
    input_tokens: StrictInt = Field(0, ge=0, le=MAX_COUNT)
    output_tokens: StrictInt = Field(0, ge=0, le=MAX_COUNT)
    images: StrictInt = Field(0, ge=0, le=MAX_COUNT)


class ChallengeRequest(_Strict):
    address: StrictStr = Field(max_length=_ADDRESS)


class KeyRequest(_Strict):
    address: StrictStr = Field(max_length=_ADDRESS)
    signature: StrictStr = Field(max_length=_SIGNATURE)
    daily_limit_micros: StrictInt | None = Field(None, ge=0, le=MAX_AMOUNT)
    label: StrictStr | None = Field(None, max_length=200)
    monthly_limit_micros: StrictInt | None = Field(
        None, ge=0, le=MAX_AMOUNT, description="per UTC calendar month"
    )
    expires_at: StrictInt | None = Field(
        None, ge=0, le=MAX_EXPIRES_AT, description="Unix time from which the key is refused"
    )
    models: list[Annotated[StrictStr, Field(min_length=1, max_length=200)]] | None = Field(
        None, min_length=1, max_length=64, description="the only models it may use"
    )
    kind: Literal["inference", "admin"] = Field(
        "inference", description="admin keys also manage the wallet's keys"
    )


class SiweRequest(_Strict):
    # The verifier refuses more than 4,096 characters itself (in microseconds); the model lets
    # a little more through so that such a message gets that precise answer.
    message: StrictStr = Field(max_length=8_192)
    signature: StrictStr = Field(max_length=_SIGNATURE)


class ErrorResponse(BaseModel):
    code: Reason = Field(description="A stable machine-readable code")
    message: str


class ValidationErrorResponse(BaseModel):
    code: Reason = Field(description="invalid_request")
    message: str
    detail: list[dict[str, Any]]


class HealthResponse(BaseModel):
    ok: bool
    block: int | None = None
    reason: str | None = None


class EntitlementResponse(BaseModel):
    address: str
    block: int
    timestamp: int
    staked: str = Field(description="wei, as a decimal string")
    locked: str
    cooling: str
    unlock_time: int
    pending_rewards: str
    pro: bool
    pro_reason: str
    pro_until: int
    diem_staked: str
    diem_cooling: str
    daily_credit_micros: int
    stale: bool
    degraded: bool


class DecisionResponse(BaseModel):
    allowed: StrictBool
    reason: Reason
    address: str | None
    cost_micros: int
    spent_micros: int = Field(description="today, of the budget `daily_limit_micros` describes")
    remaining_micros: int
    daily_limit_micros: int = Field(
        description="the API key's own daily limit when it has one, else the wallet's credit"
    )
    wallet_spent_micros: int
    wallet_remaining_micros: int
    wallet_daily_limit_micros: int
    source: str
    pro: bool
    stale: bool


class ChallengeResponse(BaseModel):
    address: str
    message: str
    expires_at: float


class KeyResponse(BaseModel):
    key: str = Field(description="shown once: only its hash is stored")
    key_id: str
    address: str
    kind: str = Field("inference", description="inference or admin")


class SiweResponse(KeyResponse):
    """A SIWE sign-in is a session: an API key for the wallet (which must have staked VVV)."""


class RevokeResponse(BaseModel):
    revoked: str


class NonceResponse(BaseModel):
    nonce: str


def _error(description: str, codes: list[Reason]) -> dict[str, Any]:
    listed = ", ".join(f"`{code}`" for code in codes)
    return {"model": ErrorResponse, "description": f"{description}: {listed}"}


_AUTH_CODES = [
    Reason.MALFORMED_ADDRESS,
    Reason.MALFORMED_MESSAGE,
    Reason.UNKNOWN_CHALLENGE,
    Reason.CHALLENGE_SUPERSEDED,
    Reason.CHALLENGE_EXPIRED,
    Reason.NONCE_REPLAYED,
    Reason.BAD_SIGNATURE,
    Reason.WRONG_DOMAIN,
    Reason.WRONG_URI,
    Reason.WRONG_CHAIN,
    Reason.NOT_YET_VALID,
    Reason.EXPIRED,
    Reason.NO_STAKE,
    Reason.UNKNOWN_KEY,
    Reason.KEY_REVOKED,
    Reason.KEY_EXPIRED,
    Reason.UNKNOWN_MODEL,
    Reason.BAD_REQUEST,
]


def responses(*, internal: bool, chain: bool) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route: ``internal`` (needs the admin token), ``chain`` (may read
    the node)."""
    out: dict[int | str, dict[str, Any]] = {
        400: _error("Refused", _AUTH_CODES),
        404: _error("No such route", [Reason.NOT_FOUND]),
        405: _error("Method not allowed", [Reason.METHOD_NOT_ALLOWED]),
        413: _error("Body larger than the server's limit", [Reason.BODY_TOO_LARGE]),
        422: {"model": ValidationErrorResponse, "description": "`invalid_request`"},
        500: _error("A bug (no details are given)", [Reason.INTERNAL_ERROR]),
    }
    if internal:
        out[401] = _error("Internal route", [Reason.ADMIN_TOKEN_REQUIRED])
    if chain:
        out[503] = _error("A dependency is down", [Reason.RPC_UNAVAILABLE])
    return out
