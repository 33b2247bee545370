"""The SDK's errors: one base exception and one set of machine-readable codes.

Every exception the SDK raises on purpose derives from `VeniceError` (a caller may catch them
all at once; each also keeps its older base, e.g. `UnknownModel` is still a `LookupError`).

`Reason` is every refusal or error code the SDK hands out: a `Decision`'s ``reason``, a refused
ledger `Debit`'s ``reason``, and the ``code`` of `AuthError` and `EntitlementError`. It is a
`StrEnum`, so each member *is* its snake_case string: ``Reason.NO_CREDIT == "no_credit"``, and it
prints and serialises to JSON as that string.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason", "VeniceError"]


class VeniceError(Exception):
    """Base class of the SDK's own exceptions."""


class Reason(StrEnum):
    """Why a request was refused (or ``OK``); the values are stable API."""

    # Decisions (venice_sdk.gate) and ledger debits (venice_sdk.ledger)
    OK = "ok"
    INSUFFICIENT_CREDIT = "insufficient_credit"
    NO_CREDIT = "no_credit"
    KEY_LIMIT_REACHED = "key_limit_reached"
    KEY_MONTHLY_LIMIT_REACHED = "key_monthly_limit_reached"
    MODEL_NOT_ALLOWED = "model_not_allowed"
    UNKNOWN_MODEL = "unknown_model"
    BAD_REQUEST = "bad_request"
    WALLET_NOT_ALLOWED = "wallet_not_allowed"
    # The sidecar's HTTP surface (venice_sdk.service, venice_sdk.server)
    INVALID_REQUEST = "invalid_request"
    BODY_TOO_LARGE = "body_too_large"
    ADMIN_TOKEN_REQUIRED = "admin_token_required"
    INTERNAL_ERROR = "internal_error"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # Dependencies (the sidecar answers these with a 503)
    LEDGER_UNAVAILABLE = "ledger_unavailable"
    KEY_STORE_UNAVAILABLE = "key_store_unavailable"
    # Entitlements (venice_sdk.entitlements); malformed_address is also an auth code
    MALFORMED_ADDRESS = "malformed_address"
    RPC_UNAVAILABLE = "rpc_unavailable"
    BAD_MANIFEST = "bad_manifest"
    # Sign-in and API keys (venice_sdk.auth)
    NONCE_REPLAYED = "nonce_replayed"
    CHALLENGE_EXPIRED = "challenge_expired"
    UNKNOWN_CHALLENGE = "unknown_challenge"
    BAD_SIGNATURE = "bad_signature"
    CHALLENGE_SUPERSEDED = "challenge_superseded"
    CONTRACT_WALLET_UNSUPPORTED = "contract_wallet_unsupported"
    WRONG_DOMAIN = "wrong_domain"
    WRONG_CHAIN = "wrong_chain"
    WRONG_URI = "wrong_uri"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    MALFORMED_MESSAGE = "malformed_message"
    NO_STAKE = "no_stake"
    KEY_REVOKED = "key_revoked"
    KEY_EXPIRED = "key_expired"
    ADMIN_KEY_REQUIRED = "admin_key_required"
    UNKNOWN_KEY = "unknown_key"
    # Holds (venice_sdk.ledger: reserve, settle, release)
    UNKNOWN_HOLD = "unknown_hold"
    HOLD_SETTLED = "hold_settled"
    HOLD_RELEASED = "hold_released"
    HOLD_EXPIRED = "hold_expired"
    REQUEST_ID_REUSED = "request_id_reused"
    # The inference gateway (venice_sdk.gateway)
    INVALID_API_KEY = "invalid_api_key"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_PARALLEL = "too_many_parallel_requests"
