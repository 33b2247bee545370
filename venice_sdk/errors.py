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
    UNKNOWN_MODEL = "unknown_model"
    BAD_REQUEST = "bad_request"
    # Entitlements (venice_sdk.entitlements); malformed_address is also an auth code
    MALFORMED_ADDRESS = "malformed_address"
    RPC_UNAVAILABLE = "rpc_unavailable"
    BAD_MANIFEST = "bad_manifest"
    # Sign-in and API keys (venice_sdk.auth)
    NONCE_REPLAYED = "nonce_replayed"
    CHALLENGE_EXPIRED = "challenge_expired"
    UNKNOWN_CHALLENGE = "unknown_challenge"
    BAD_SIGNATURE = "bad_signature"
    CONTRACT_WALLET_UNSUPPORTED = "contract_wallet_unsupported"
    WRONG_DOMAIN = "wrong_domain"
    WRONG_CHAIN = "wrong_chain"
    WRONG_URI = "wrong_uri"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    MALFORMED_MESSAGE = "malformed_message"
    NO_STAKE = "no_stake"
    KEY_REVOKED = "key_revoked"
    UNKNOWN_KEY = "unknown_key"
