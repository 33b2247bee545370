"""`SiweVerifier`: Sign-In with Ethereum (EIP-4361) for the dashboard, with single-use nonces
from the challenge stores."""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_utils.address import to_checksum_address

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

__all__ = ["MAX_SIWE_MESSAGE", "SiweFields", "SiweVerifier", "parse_message"]

#: The longest SIWE message accepted (characters): a real one is a few hundred.
MAX_SIWE_MESSAGE = 4_096

# EIP-4361's message, line by line, parsed in linear time with every value bounded. (The `siwe`
# package's ABNF parser is superlinear: 20 ms for a plain message, 1 s for a 1,000-character
# statement, minutes on garbage; it is not used to verify.)
_HEADER = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]{0,31}://)?(\S{1,255}) wants you to sign in with your Ethereum"
    r" account:"
)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_STATEMENT = re.compile(r"[^\n\r]{1,1024}")
_TIME = re.compile(r"[0-9T:.+\-Zz]{10,40}")
_FIELDS: tuple[tuple[str, str, re.Pattern[str], bool], ...] = (
    # (attribute, prefix, value, required) in the order EIP-4361 fixes
    ("uri", "URI: ", re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}:\S{1,1024}"), True),
    ("version", "Version: ", re.compile(r"1"), True),
    ("chain_id", "Chain ID: ", re.compile(r"[1-9][0-9]{0,19}"), True),
    ("nonce", "Nonce: ", re.compile(r"[A-Za-z0-9]{8,128}"), True),
    ("issued_at", "Issued At: ", _TIME, True),
    ("expiration_time", "Expiration Time: ", _TIME, False),
    ("not_before", "Not Before: ", _TIME, False),
    ("request_id", "Request ID: ", re.compile(r"\S{0,256}"), False),
)
_RESOURCE = re.compile(r"- (\S{1,1024})")
_MAX_RESOURCES = 32


@dataclass(frozen=True)
class SiweFields:
    """The fields of an EIP-4361 message, as `parse_message` read them."""

    domain: str
    address: str
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: str
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()


def _malformed(why: str) -> AuthError:
    return AuthError(Reason.MALFORMED_MESSAGE, f"not an EIP-4361 message: {why}")


def parse_message(text: object, domain: str | None = None) -> SiweFields:
    """Parse an EIP-4361 message in linear time. Refuses (`AuthError`, ``malformed_message``)
    text that is not one, or is longer than `MAX_SIWE_MESSAGE` (before looking at it), or whose
    address is not EIP-55 checksummed; with ``domain``, a message whose first line names another
    domain is refused as ``wrong_domain`` as soon as that line is read."""
    if not isinstance(text, str):
        raise AuthError(Reason.MALFORMED_MESSAGE, "the message must be text")
    if len(text) > MAX_SIWE_MESSAGE:
        raise _malformed(f"longer than {MAX_SIWE_MESSAGE} characters")
    lines = text.split("\n")
    header = _HEADER.fullmatch(lines[0])
    if header is None:
        raise _malformed("the first line is not '<domain> wants you to sign in with ...'")
    if domain is not None and header[1] != domain:
        raise AuthError(Reason.WRONG_DOMAIN, f"the message is for {header[1]!r}, not {domain!r}")
    if len(lines) < 3 or _ADDRESS.fullmatch(lines[1]) is None or lines[2] != "":
        raise _malformed("the second line is not a 0x address followed by a blank line")
    if to_checksum_address(lines[1]) != lines[1]:
        raise _malformed("the address in the message is not EIP-55 checksummed")
    fields: dict[str, str] = {}
    statement = None
    i = 3
    if i < len(lines) and lines[i] != "" and not lines[i].startswith("URI: "):
        if _STATEMENT.fullmatch(lines[i]) is None:
            raise _malformed("the statement is longer than 1024 characters")
        statement, i = lines[i], i + 1
    if i < len(lines) and lines[i] == "":
        i += 1  # the blank line after the statement (or the second one when there is none)
    elif statement is not None:
        raise _malformed("no blank line after the statement")
    for name, prefix, value, required in _FIELDS:
        if i < len(lines) and lines[i].startswith(prefix):
            if value.fullmatch(lines[i][len(prefix) :]) is None:
                raise _malformed(f"a bad {prefix[:-2]!r} line")
            fields[name], i = lines[i][len(prefix) :], i + 1
        elif required:
            raise _malformed(f"no {prefix[:-2]!r} line where it belongs")
    resources: list[str] = []
    if i < len(lines) and lines[i] == "Resources:":
        i += 1
        while i < len(lines) and len(resources) <= _MAX_RESOURCES:
            match = _RESOURCE.fullmatch(lines[i])
            if match is None:
                break
            resources.append(match[1])
            i += 1
        if len(resources) > _MAX_RESOURCES:
            raise _malformed(f"more than {_MAX_RESOURCES} resources")
    if i != len(lines):
        raise _malformed(f"unexpected text on line {i + 1}")
    return SiweFields(
        domain=header[1],
        address=lines[1],
        statement=statement,
        uri=fields["uri"],
        version=fields["version"],
        chain_id=int(fields["chain_id"]),
        nonce=fields["nonce"],
        issued_at=fields["issued_at"],
        expiration_time=fields.get("expiration_time"),
        not_before=fields.get("not_before"),
        request_id=fields.get("request_id"),
        resources=tuple(resources),
    )


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
        message = parse_message(message_text, self.domain)
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
