"""Conversions between human amounts ("100.5") and integer base units.

Money is integers: wei and token base units everywhere; `Decimal` only to read
what a person typed and to display.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from venice_sdk.errors import VeniceError

__all__ = ["AmountError", "format_units", "parse_units"]

# Commas as thousands separators only: 1 to 3 digits, then groups of exactly three.
_THOUSANDS = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?")


class AmountError(VeniceError, ValueError):
    """A human amount that cannot be turned into base units."""


def parse_units(text: str | int | Decimal, decimals: int = 18) -> int:
    """Parse a human amount such as ``"100.5"`` into base units, exactly.

    Rejects negatives, non-numbers and more fractional digits than the token has
    (never rounds silently). A comma may only group thousands (``"1,000.5"``): ``"0,5"``,
    ``"1,5"`` or ``"1,00"`` is a decimal comma, refused rather than read as 5, 15 or 100.
    """
    raw = str(text).strip().replace("_", "")
    if "," in raw:
        if not _THOUSANDS.fullmatch(raw):
            raise AmountError(
                f"'{text}' has a comma that does not group thousands: write decimals with a "
                "point, like 0.5 or 1,000.5 (a comma only separates groups of three digits)"
            )
        raw = raw.replace(",", "")
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
