"""Conversions between human amounts ("100.5") and integer base units.

Money is integers: wei and token base units everywhere; `Decimal` only to read
what a person typed and to display.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from venice_sdk.errors import VeniceError

__all__ = ["AmountError", "format_units", "parse_units"]


class AmountError(VeniceError, ValueError):
    """A human amount that cannot be turned into base units."""


def parse_units(text: str | int | Decimal, decimals: int = 18) -> int:
    """Parse a human amount such as ``"100.5"`` into base units, exactly.

    Rejects negatives, non-numbers and more fractional digits than the token has
    (never rounds silently).
    """
    raw = str(text).strip().replace("_", "").replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise AmountError(f"'{text}' is not a number (write amounts like 100 or 100.5)") from None
    if not value.is_finite():
        raise AmountError(f"'{text}' is not a finite amount")
    if value < 0:
        raise AmountError(f"'{text}' is negative: amounts must be positive")
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"'{text}' has more than {decimals} decimal places")
    return int(scaled)


def format_units(amount: int, decimals: int = 18, places: int = 4) -> str:
    """Format base units for display, rounded down to ``places`` decimals."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    if places <= 0:
        return f"{sign}{whole:,}"
    frac_text = str(frac).rjust(decimals, "0")[:places]
    return f"{sign}{whole:,}.{frac_text}"
