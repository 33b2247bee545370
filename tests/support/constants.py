"""The tests' units and the protocol's constants, declared once.

The protocol's constants are imported from `venice_sdk.model` (the model mirrors the
contracts, so a test and the model cannot disagree about them); the rest are units.
"""

from __future__ import annotations

from venice_sdk.model.curve import MAX_RATE, STEP, UNIT
from venice_sdk.model.emissions import BPS, MAX_SCHEDULE
from venice_sdk.model.emissions import SECONDS_PER_YEAR as YEAR
from venice_sdk.model.staking import PRECISION
from venice_sdk.model.value import PERIOD

__all__ = [
    "BPS",
    "DAY",
    "HOUR",
    "MAX_RATE",
    "MAX_SCHEDULE",
    "MAX_UINT",
    "MINUTE",
    "PERIOD",
    "PRECISION",
    "STEP",
    "UNIT",
    "USDC",
    "VVV",
    "YEAR",
    "ZERO",
]

VVV = 10**18  # one VVV (sVVV and DIEM have 18 decimals too), in wei
USDC = 10**6  # one USDC, in its smallest unit
MINUTE = 60
HOUR = 3_600
DAY = 86_400
MAX_UINT = 2**256 - 1
ZERO = "0x" + "00" * 20  # the zero address
