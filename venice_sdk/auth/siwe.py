"""`SiweVerifier`: Sign-In with Ethereum (EIP-4361) for the dashboard, with single-use nonces
from the challenge stores."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime

from eth_utils.address import to_checksum_address
from siwe import SiweMessage  # type: ignore[import-untyped]

from venice_sdk.auth.common import (
    _GRACE_SECONDS,
    CHALLENGE_TTL_SECONDS,
    AuthError,
    CodeReader,
    check_signature,
)
from venice_sdk.auth.stores import ChallengeStore, _consume, _missing_code
from venice_sdk.clock import Clock
from venice_sdk.errors import Reason

__all__ = ["SiweVerifier"]


def _parse_time(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise AuthError(Reason.MALFORMED_MESSAGE, f"{what} is not an ISO-8601 time") from None
    if value.tzinfo is None:
        raise AuthError(Reason.MALFORMED_MESSAGE, f"{what} has no time zone")
    return value


class SiweVerifier:
    """Sign-In with Ethereum (EIP-4361) for one domain and chain, with single-use nonces.

    The signature is checked over the exact text the wallet signed (not a re-serialisation),
    and every field that is checked is parsed from that same text.
    """

    def __init__(
        self,
        domain: str,
        uri: str | None = None,
        *,
        chain_id: int,
        store: ChallengeStore,
        clock: Clock = time.time,
        nonce_ttl_seconds: int = CHALLENGE_TTL_SECONDS,
        max_clock_skew_seconds: int = 60,
        get_code: CodeReader | None = None,
    ) -> None:
        if not domain:
            raise ValueError("domain must not be empty")
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
            raise ValueError("chain_id must be a positive integer")
        self.domain = domain
        self.uri = uri
        self.chain_id = chain_id
        self.store = store
        self._clock = clock
        self.nonce_ttl_seconds = nonce_ttl_seconds
        self.max_clock_skew_seconds = max_clock_skew_seconds
        self.get_code = get_code

    def nonce(self) -> str:
        """A fresh single-use nonce (128 random bits, 32 hex characters) to put in a message."""
        while True:
            nonce = secrets.token_hex(16)
            expires_at = self._clock() + self.nonce_ttl_seconds
            stored = self.store.put(
                "siwe:" + nonce,
                json.dumps({"expires_at": expires_at}),
                self.nonce_ttl_seconds + _GRACE_SECONDS,
                only_if_absent=True,
            )
            if stored:
                return nonce

    def verify(self, message_text: str, signature: str | bytes) -> str:
        """Check a signed SIWE message and consume its nonce; returns the checksummed address.

        Refuses (``AuthError``): ``malformed_message``, ``wrong_domain``, ``wrong_uri``,
        ``wrong_chain``, ``not_yet_valid`` (issued in the future or before not-before),
        ``expired`` (past expiration-time), ``unknown_challenge`` (a nonce we never issued),
        ``challenge_expired`` (our nonce is too old), ``nonce_replayed``, ``bad_signature``,
        ``contract_wallet_unsupported`` (only with ``get_code``: see `check_signature`).
        """
        if not isinstance(message_text, str):
            raise AuthError(Reason.MALFORMED_MESSAGE, "the message must be text")
        try:
            message = SiweMessage.from_message(message_text)
        except (ValueError, TypeError) as exc:
            reason = "not an EIP-4361 message"
            if "EIP-55" in str(exc):
                reason = "the address in the message is not EIP-55 checksummed"
            raise AuthError(Reason.MALFORMED_MESSAGE, reason) from None
        if message.domain != self.domain:
            raise AuthError(
                Reason.WRONG_DOMAIN, f"the message is for {message.domain!r}, not {self.domain!r}"
            )
        if self.uri is not None and message.uri != self.uri:
            raise AuthError(
                Reason.WRONG_URI, f"the message is for URI {message.uri!r}, not {self.uri!r}"
            )
        if message.chain_id != self.chain_id:
            raise AuthError(
                Reason.WRONG_CHAIN,
                f"the message is for chain {message.chain_id}, not {self.chain_id}",
            )

        now_ts = self._clock()
        now = datetime.fromtimestamp(now_ts, UTC)
        issued_at = _parse_time(message.issued_at, "Issued At")
        if (issued_at - now).total_seconds() > self.max_clock_skew_seconds:
            raise AuthError(Reason.NOT_YET_VALID, "the message is issued in the future")
        if message.expiration_time is not None and now >= _parse_time(
            message.expiration_time, "Expiration Time"
        ):
            raise AuthError(Reason.EXPIRED, f"the message expired at {message.expiration_time}")
        if message.not_before is not None and now < _parse_time(message.not_before, "Not Before"):
            raise AuthError(Reason.NOT_YET_VALID, f"the message is valid from {message.not_before}")

        key = "siwe:" + str(message.nonce)
        raw = self.store.get(key)
        if raw is None:
            code = _missing_code(self.store, key)
            if code == Reason.NONCE_REPLAYED:
                raise AuthError(code, "this nonce was already used: sign in again")
            raise AuthError(code, "this nonce was not issued by this server")
        if now_ts >= float(json.loads(raw)["expires_at"]):
            raise AuthError(Reason.CHALLENGE_EXPIRED, "the nonce expired: sign in again")

        address = str(message.address)
        check_signature(address, message_text, signature, "this message", self.get_code)
        if not _consume(self.store, key, self.nonce_ttl_seconds + _GRACE_SECONDS):
            raise AuthError(Reason.NONCE_REPLAYED, "this nonce was used by a concurrent request")
        return str(to_checksum_address(address))
