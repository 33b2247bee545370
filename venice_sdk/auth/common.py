"""What every part of `venice_sdk.auth` shares: `AuthError`, the address and signature
checks, and how long a challenge lives."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from eth_account import Account
from eth_account.messages import encode_defunct

from venice_sdk.addresses import AddressError, parse_address
from venice_sdk.errors import Reason, VeniceError

__all__ = [
    "CHALLENGE_TTL_SECONDS",
    "AuthError",
    "CodeReader",
    "check_signature",
    "normalize_address",
    "recover_signer",
]

CHALLENGE_TTL_SECONDS = 15 * 60
"""How long a wallet challenge or a SIWE nonce stays valid."""

_GRACE_SECONDS = 60 * 60
"""How long stores keep an expired challenge or a consumed one's marker, so a late or
replayed attempt is refused with the precise code instead of "unknown"."""


class AuthError(VeniceError):
    """A refused authentication step; ``code`` is stable and machine-readable."""

    def __init__(self, code: Reason, message: str) -> None:
        code = Reason(code)  # a plain string that names a code becomes its member
        super().__init__(code, message)  # both in args, so the error pickles across processes
        self.code: Reason = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# --------------------------------------------------------------------------- addresses, sigs

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def normalize_address(address: object) -> str:
    """Return the EIP-55 checksummed form of ``address``, comparing case-insensitively.

    Refuses anything that is not ``0x`` followed by 40 hex digits, and mixed case with a wrong
    EIP-55 checksum (code ``malformed_address``; `venice_sdk.addresses.parse_address`).
    """
    if not isinstance(address, str) or not _ADDRESS_RE.fullmatch(address.strip()):
        raise AuthError(
            Reason.MALFORMED_ADDRESS, "expected an address: 0x followed by 40 hex digits"
        )
    try:
        return parse_address(address)
    except AddressError as exc:  # mixed case with a wrong checksum
        raise AuthError(Reason.MALFORMED_ADDRESS, str(exc)) from None


def recover_signer(text: str, signature: str | bytes) -> str:
    """The checksummed address whose EIP-191 ``personal_sign`` signature over ``text`` this is.

    Any signature that cannot be recovered (wrong length, bad hex, invalid v/r/s) is refused
    with code ``bad_signature``.
    """
    if isinstance(signature, str):
        raw = signature.strip()
        raw = raw[2:] if raw[:2].lower() == "0x" else raw
        try:
            sig = bytes.fromhex(raw)
        except ValueError:
            raise AuthError(Reason.BAD_SIGNATURE, "the signature is not hex") from None
    elif isinstance(signature, bytes | bytearray):
        sig = bytes(signature)
    else:
        raise AuthError(Reason.BAD_SIGNATURE, "the signature must be hex text or bytes")
    if len(sig) != 65:
        raise AuthError(Reason.BAD_SIGNATURE, f"a signature is 65 bytes, got {len(sig)}")
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=sig))
    except Exception:  # eth-keys / eth-account raise several types for invalid v, r, s
        raise AuthError(
            Reason.BAD_SIGNATURE, "the signature does not recover to an address"
        ) from None


CodeReader = Callable[[str], bytes]
"""Reads an address's runtime code at the latest block (``eth_getCode``), e.g.
``web3.eth.get_code``."""

_DELEGATION_PREFIX = b"\xef\x01\x00"
"""EIP-7702: an externally owned account that delegates to code; its key still signs."""


def check_signature(
    address: str,
    text: str,
    signature: str | bytes,
    what: str,
    get_code: CodeReader | None = None,
) -> None:
    """Refuse unless ``signature`` is ``address``'s EIP-191 signature over ``text``.

    Code ``bad_signature``; ``contract_wallet_unsupported`` instead when ``get_code`` is given
    and ``address`` holds contract code: a smart-contract wallet (EIP-1271) signs through its
    contract, which is not supported. Without ``get_code`` (or when the node cannot be read)
    a contract wallet gets ``bad_signature``.
    """
    try:
        signer = recover_signer(text, signature)
    except AuthError:
        _refuse_contract_wallet(address, get_code)
        raise
    if signer.lower() != address.lower():
        _refuse_contract_wallet(address, get_code)
        raise AuthError(Reason.BAD_SIGNATURE, f"the signature is not {address}'s over {what}")


def _refuse_contract_wallet(address: str, get_code: CodeReader | None) -> None:
    if get_code is None:
        return
    try:
        code = bytes(get_code(address))
    except Exception:  # the node is unreachable or refuses: keep the generic code
        return
    if code and not code.startswith(_DELEGATION_PREFIX):
        raise AuthError(
            Reason.CONTRACT_WALLET_UNSUPPORTED,
            f"{address} is a contract wallet (EIP-1271), which cannot sign in here:"
            " sign with an externally owned account",
        )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
