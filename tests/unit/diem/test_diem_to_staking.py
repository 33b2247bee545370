"""DIEM refuses transfers (and transferFrom) to the staking contract, as it refuses them to
itself: DIEM sent there would be lost, and its sender's lock could then be only partly released
(burnDiem burns from the caller's own balance). And `stake` of an amount past 2**256 with a
stake already there is refused with its reason, not a bare overflow.

DIEM enters the tests the only way it can: alice locks sVVV with `mintExactDiem`.
"""

from __future__ import annotations

import ape
import pytest

from tests.support.chain import refused_changing_nothing
from tests.support.constants import MAX_UINT, VVV

MINTED = 100 * VVV
MASK_104 = 2**104 - 1


@pytest.fixture
def minted(fund, staking, diem, alice, bob):
    """alice: 100 DIEM minted against 100_000 staked VVV; bob may move 50 of them."""
    fund(alice, 100_000 * VVV)
    staking.stake(alice, 100_000 * VVV, sender=alice)
    staking.mintExactDiem(MINTED, MAX_UINT, sender=alice)
    diem.approve(bob, 50 * VVV, sender=alice)


def test_transfer__to_the_staking_contract__refused(minted, diem, staking, alice, storage_roots):
    refused_changing_nothing(
        storage_roots, "DIEM: use burnDiem()", lambda: diem.transfer(staking, VVV, sender=alice)
    )
    assert diem.balanceOf(alice) == MINTED
    assert diem.balanceOf(staking) == 0


def test_transferFrom__to_the_staking_contract__refused(
    minted, diem, staking, alice, bob, storage_roots
):
    refused_changing_nothing(
        storage_roots,
        "DIEM: use burnDiem()",
        lambda: diem.transferFrom(alice, staking, VVV, sender=bob),
    )
    assert diem.allowance(alice, bob) == 50 * VVV


def test_transfer__to_itself__still_refused_first(minted, diem, alice, bob):
    with ape.reverts("DIEM: use stake()"):
        diem.transfer(diem, VVV, sender=alice)
    with ape.reverts("DIEM: use stake()"):
        diem.transferFrom(alice, diem, VVV, sender=bob)


def test_transfers__elsewhere__unchanged_and_lock_still_releases(
    minted, diem, staking, alice, bob, carol
):
    diem.transfer(carol, VVV, sender=alice)
    diem.transferFrom(alice, bob, VVV, sender=bob)
    assert diem.balanceOf(carol) == diem.balanceOf(bob) == VVV
    # The DIEM that stayed with alice releases its share of her lock.
    locked, outstanding = staking.lockedStakes(alice)
    staking.burnDiem(MINTED - 2 * VVV, sender=alice)
    assert staking.lockedStakes(alice) == (
        locked - (MINTED - 2 * VVV) * locked // outstanding,
        2 * VVV,
    )


@pytest.mark.parametrize("amount", [MAX_UINT, MAX_UINT - VVV + 1, MASK_104])
def test_stake__past_the_104_bit_field__stake_overflow(minted, diem, alice, amount, storage_roots):
    diem.stake(VVV, sender=alice)
    refused_changing_nothing(
        storage_roots, "DIEM: stake overflow", lambda: diem.stake(amount, sender=alice)
    )
    assert diem.stakedInfos(alice) == (VVV, 0, 0)
