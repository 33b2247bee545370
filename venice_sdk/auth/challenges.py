"""`WalletChallenges`: the server issues a short-lived challenge (15 minutes by default) for a
wallet, the wallet signs its text with ``personal_sign`` (EIP-191), the server checks the
signature and consumes the challenge exactly once."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from venice_sdk.auth.common import (
    _GRACE_SECONDS,
    CHALLENGE_TTL_SECONDS,
    AuthError,
    CodeReader,
    _iso,
    check_signature,
    normalize_address,
    recover_signer,
)
from venice_sdk.auth.stores import ChallengeStore, _missing_code
from venice_sdk.clock import Clock
from venice_sdk.errors import Reason

__all__ = ["Challenge", "WalletChallenges"]

_SUPERSEDED_KEPT = 4  # superseded challenge texts remembered per wallet


@dataclass(frozen=True)
class Challenge:
    """A challenge for one wallet: ``message`` is the exact text to ``personal_sign``."""

    address: str
    nonce: str
    message: str
    issued_at: float
    expires_at: float


class WalletChallenges:
    """Issue and verify EIP-191 challenges that bind a wallet to the caller.

    One outstanding challenge per wallet: issuing a new one supersedes the previous one (a
    signature over a superseded one is refused as ``challenge_superseded``).
    A failed verification (bad signature) does not consume the challenge, so a third party
    cannot burn someone's challenge by sending garbage; a successful one consumes it.
    """

    def __init__(
        self,
        domain: str,
        store: ChallengeStore,
        *,
        ttl_seconds: int = CHALLENGE_TTL_SECONDS,
        clock: Clock = time.time,
        get_code: CodeReader | None = None,
    ) -> None:
        if not domain or "\n" in domain:
            raise ValueError("domain must be one non-empty line")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.domain = domain
        self.store = store
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self.get_code = get_code

    def _text(self, address: str, nonce: str, issued_at: float, expires_at: float) -> str:
        return (
            f"{self.domain} asks you to sign this message to prove you control this wallet"
            " and to get an API key for it. It costs nothing and sends no transaction.\n"
            "\n"
            f"Address: {address}\n"
            f"Nonce: {nonce}\n"
            f"Issued At: {_iso(issued_at)}\n"
            f"Expiration Time: {_iso(expires_at)}"
        )

    def issue_challenge(self, address: str) -> Challenge:
        """A new challenge (128-bit random nonce) for ``address``; supersedes any earlier one."""
        checksummed = normalize_address(address)
        nonce = secrets.token_hex(16)
        issued_at = self._clock()
        expires_at = issued_at + self.ttl_seconds
        challenge = Challenge(
            address=checksummed,
            nonce=nonce,
            message=self._text(checksummed, nonce, issued_at, expires_at),
            issued_at=issued_at,
            expires_at=expires_at,
        )
        record = json.dumps(
            {"nonce": nonce, "message": challenge.message, "expires_at": expires_at}
        )
        key = self._key(checksummed)
        previous = self.store.get(key)
        if previous is not None:
            # Remember the texts this one supersedes, so that a signature over one of them is
            # told `challenge_superseded`, not a misleading `bad_signature`.
            older = [json.loads(previous)["message"], *self._superseded(key)]
            self.store.put(
                "superseded:" + key,
                json.dumps(older[:_SUPERSEDED_KEPT]),
                self.ttl_seconds + _GRACE_SECONDS,
            )
        self.store.put(key, record, self.ttl_seconds + _GRACE_SECONDS)
        return challenge

    def _superseded(self, key: str) -> list[str]:
        raw = self.store.get("superseded:" + key)
        return [] if raw is None else [str(text) for text in json.loads(raw)]

    @staticmethod
    def _key(checksummed: str) -> str:
        return "wallet:" + checksummed.lower()

    def verify_challenge(self, address: str, signature: str | bytes) -> str:
        """Check ``signature`` over this wallet's outstanding challenge and consume it.

        Returns the checksummed address. Refuses (``AuthError``): ``malformed_address``,
        ``unknown_challenge`` (none issued), ``challenge_superseded`` (signed an older one),
        ``nonce_replayed`` (already used),
        ``challenge_expired``, ``bad_signature`` (not signed by ``address`` over exactly the
        issued text), ``contract_wallet_unsupported`` (only with ``get_code``: see
        `check_signature`).
        """
        checksummed = normalize_address(address)
        key = self._key(checksummed)
        raw = self.store.get(key)
        if raw is None:
            code = _missing_code(self.store, key)
            if code == Reason.NONCE_REPLAYED:
                raise AuthError(code, "this challenge was already used: request a new one")
            raise AuthError(code, "no challenge is outstanding for this wallet: request one")
        record = json.loads(raw)
        if self._clock() >= float(record["expires_at"]):
            raise AuthError(
                Reason.CHALLENGE_EXPIRED,
                f"the challenge expired at {_iso(float(record['expires_at']))}: request a new one",
            )
        try:
            signer: str | None = recover_signer(str(record["message"]), signature)
        except AuthError:  # not an ECDSA signature: check_signature says why (a contract wallet?)
            signer = None
        if signer is None or signer.lower() != checksummed.lower():
            for text in self._superseded(key) if signer is not None else ():
                if recover_signer(text, signature).lower() == checksummed.lower():
                    raise AuthError(
                        Reason.CHALLENGE_SUPERSEDED,
                        "this challenge was superseded by a newer one for this wallet:"
                        " sign the newest",
                    )
            check_signature(
                checksummed,
                str(record["message"]),
                signature,
                "the issued challenge text",
                self.get_code,
            )
        self.store.put("used:" + key, "1", self.ttl_seconds + _GRACE_SECONDS)  # see _consume
        taken = self.store.take(key)
        if taken is None:
            raise AuthError(
                Reason.NONCE_REPLAYED, "this challenge was used by a concurrent request"
            )
        newer = json.loads(taken)
        if newer["nonce"] != record["nonce"]:
            # Issued between our read and our take: put the newer challenge back untouched.
            remaining = float(newer["expires_at"]) - self._clock() + _GRACE_SECONDS
            self.store.put(key, taken, max(remaining, 1.0), only_if_absent=True)
            raise AuthError(
                Reason.UNKNOWN_CHALLENGE,
                "the challenge was superseded by a newer one: sign that one",
            )
        return checksummed
