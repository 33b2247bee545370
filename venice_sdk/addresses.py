"""The one parser of a typed or received Ethereum address, shared by the SDK, the commands
(`venice_ops.commands.common`) and the airdrop CSV (`venice_ops.deploy.airdrop_tree`).

`eth_utils.is_address` accepts a mixed-case address whose EIP-55 checksum is wrong, so a
mistyped letter reaches a wallet nobody holds. `parse_address` refuses it: all-lowercase (and
all-uppercase) hex carries no checksum and is accepted; mixed case must be the exact EIP-55
spelling. It returns the checksummed form, for the caller to echo.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from venice_sdk.errors import Reason, VeniceError

__all__ = ["AddressError", "parse_address"]


class AddressError(VeniceError, ValueError):
    """Not an address, or a mixed-case one with a wrong EIP-55 checksum."""

    code = Reason.MALFORMED_ADDRESS


def _pick_keccak() -> Callable[[bytes], bytes]:
    """eth_hash's C backend (safe-pysha3) when installed, ~5x faster per call than the
    pycryptodome one (an airdrop CSV checks 40,000 addresses), else whichever it finds."""
    try:
        from eth_hash.backends.pysha3 import keccak256
    except ImportError:  # pragma: no cover
        from eth_hash.auto import keccak as auto

        return auto
    return keccak256


_keccak = _pick_keccak()
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
# Byte tables for the EIP-55 checksum: 0x20 where a hex digit is >= 8 / is a letter.
_HIGH_NIBBLE = bytes(0x20 if chr(b) in "89abcdef" else 0 for b in range(256))
_LETTER = bytes(0x20 if chr(b) in "abcdef" else 0 for b in range(256))


def _checksummed(lower: str) -> str:
    """EIP-55 of 40 lowercase hex digits: upper-case the letters whose nibble in
    keccak(lowercase hex) is >= 8, all 40 at once (0x20 is the ASCII case bit)."""
    ascii_lower = lower.encode("ascii")
    high_nibbles = _keccak(ascii_lower).hex()[:40].encode("ascii").translate(_HIGH_NIBBLE)
    case_bits = int.from_bytes(high_nibbles) & int.from_bytes(ascii_lower.translate(_LETTER))
    return "0x" + (int.from_bytes(ascii_lower) - case_bits).to_bytes(40).decode("ascii")


def parse_address(text: object) -> str:
    """The EIP-55 checksummed form of `text` (surrounding spaces ignored).

    Raises `AddressError` (a `ValueError`, code ``malformed_address``) for anything that is
    not ``0x`` and 40 hex digits, and for mixed case that is not the exact checksum. The zero
    address is returned as is: whether it may be used is the caller's rule.
    """
    stripped = text.strip() if isinstance(text, str) else None
    if stripped is None or not _ADDRESS_RE.fullmatch(stripped):
        raise AddressError(f"'{text}' is not an address (expected 0x followed by 40 hex digits)")
    body = stripped[2:]
    lower = body.lower()
    checksummed = _checksummed(lower)
    if body not in (lower, body.upper()) and checksummed != stripped:
        raise AddressError(
            f"'{stripped}' has an invalid EIP-55 checksum (a typo?): check it, or write it "
            "all lowercase to skip the check"
        )
    return checksummed
