"""The tokens under test, VVV and DIEM, each held by three users, bound for web3: every
conformance test runs once per token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.constants import VVV
from venice_ops.rpc import bind


@dataclass
class Token:
    name: str  # "VVV" or "DIEM"
    domain: str  # its EIP-712 domain name
    contract: Any  # web3-bound
    users: list[str]  # three holders
    spender: str  # an account the users approve (crytic's test contract)
    staking: Any  # web3-bound StakedVVV: VVV's minter, DIEM's minter and burner


@pytest.fixture(scope="module", params=["VVV", "DIEM"])
def token(request, suite, fund, alice, bob, carol, attacker) -> Token:
    users = [alice, bob, carol]
    for user in users:
        fund(user, 1_000_000 * VVV)
    if request.param == "DIEM":
        for user in users:
            suite.staking.stake(user, 600_000 * VVV, sender=user)
            suite.staking.mintDiem(300_000 * VVV, 0, sender=user)
    contract = suite.vvv if request.param == "VVV" else suite.diem
    return Token(
        name=request.param,
        domain="Venice Token" if request.param == "VVV" else "Diem",
        contract=bind(contract),
        users=[u.address for u in users],
        spender=attacker.address,
        staking=bind(suite.staking),
    )
