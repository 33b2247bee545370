"""A pure-Python mirror of the contracts' integer math.

One source of truth for the math outside the chain: the stateful tests hold it beside the
contracts and assert they agree after every step, and the simulator runs it as its fast
backend. Every function follows the Vyper code line by line (same rounding, same order), and
every revert the contracts make for a user mistake is raised as `ModelRevert` with the same
reason string.
"""

from venice_sdk.model.airdrop import AirdropModel
from venice_sdk.model.curve import MintCurveModel, default_rates
from venice_sdk.model.diem import DiemModel
from venice_sdk.model.emissions import (
    BPS,
    MAX_CAP,
    SECONDS_PER_YEAR,
    EmissionsModel,
    ModelRevert,
)
from venice_sdk.model.staking import PRECISION, Account, StakingModel
from venice_sdk.model.system import SystemModel
from venice_sdk.model.value import BurnerModel, PairModel, SubscriptionsModel, ValueModel

__all__ = [
    "BPS",
    "MAX_CAP",
    "PRECISION",
    "SECONDS_PER_YEAR",
    "Account",
    "AirdropModel",
    "BurnerModel",
    "DiemModel",
    "EmissionsModel",
    "MintCurveModel",
    "ModelRevert",
    "PairModel",
    "StakingModel",
    "SubscriptionsModel",
    "SystemModel",
    "ValueModel",
    "default_rates",
]
