"""DIEM's guards at their edges (docs/testing.md): the unstake cooldown to the second
for the caller and a bystander on another timer, the stake bound of `initiateUnstake` when
the caller's free balance would cover more, the packed stake word (staked, cooling, cooldown
end) after every write, the deploy bound on the cooldown, and the 0.1 DIEM minimum below
which staked DIEM earns no API credit (read from the chain through the SDK)."""

from __future__ import annotations

import ape
import pytest
from ape import project

from tests.support.chain import refused_changing_nothing, refused_until
from tests.support.constants import VVV
from venice_sdk.entitlements import EntitlementClient, daily_credit_micros
from venice_sdk.model.diem import MIN_CREDIT_STAKE

MAX_UINT = 2**256 - 1


@pytest.fixture
def holders(fund, staking, diem, alice, bob, carol):
    """alice, bob and carol: 100 DIEM each (minted against their own stake)."""
    for account in (alice, bob, carol):
        fund(account, 100_000 * VVV)
        staking.stake(account, 100_000 * VVV, sender=account)
        staking.mintExactDiem(100 * VVV, MAX_UINT, sender=account)
        assert diem.balanceOf(account) == 100 * VVV


ACTIVE = "DIEM: cooldown active"


def state(diem, account) -> tuple:
    return diem.balanceOf(account), diem.stakedInfos(account)


# ------------------------------------------------------------------ cooldown


def test_cooldown__unstake_at_the_end_second_not_one_before_bystander_untouched(
    diem, holders, alice, bob, at, t0
):
    cooldown = diem.cooldownDuration()
    diem.stake(50 * VVV, sender=alice)
    diem.stake(50 * VVV, sender=bob)
    at(t0)
    diem.initiateUnstake(10 * VVV + 1, sender=alice)
    at(t0 + 100)
    diem.initiateUnstake(20 * VVV, sender=bob)
    bob_state = state(diem, bob)
    assert bob_state[1] == (30 * VVV, t0 + 100 + cooldown, 20 * VVV)

    assert diem.stakedInfos(alice) == (40 * VVV - 1, t0 + cooldown, 10 * VVV + 1)
    refused_until(at, t0 + cooldown, lambda: diem.unstake(sender=alice), ACTIVE)
    assert state(diem, alice) == (60 * VVV + 1, (40 * VVV - 1, 0, 0))
    assert diem.totalCoolingDown() == 20 * VVV
    assert state(diem, bob) == bob_state
    refused_until(at, t0 + 100 + cooldown, lambda: diem.unstake(sender=bob), ACTIVE)
    assert state(diem, bob) == (70 * VVV, (30 * VVV, 0, 0))


def test_cooldown__a_second_request_restarts_the_timer_for_the_whole_bucket(
    diem, holders, alice, at, t0
):
    """Past the first request's end, the restarted timer is the only guard left."""
    cooldown = diem.cooldownDuration()
    diem.stake(50 * VVV, sender=alice)
    at(t0)
    diem.initiateUnstake(10 * VVV, sender=alice)
    at(t0 + 50)
    diem.initiateUnstake(5 * VVV, sender=alice)
    assert diem.stakedInfos(alice) == (35 * VVV, t0 + 50 + cooldown, 15 * VVV)
    refused_until(at, t0 + 50 + cooldown, lambda: diem.unstake(sender=alice), ACTIVE)
    assert state(diem, alice) == (65 * VVV, (35 * VVV, 0, 0))


def test_initiate_unstake__all_the_stake_accepted_one_wei_more_refused(
    diem, holders, alice, storage_roots
):
    """alice holds 60 DIEM unstaked, so her balance would cover one wei more than her stake:
    only the stake bound refuses it."""
    diem.stake(40 * VVV, sender=alice)
    refused_changing_nothing(
        storage_roots,
        "DIEM: amount exceeds stake",
        lambda: diem.initiateUnstake(40 * VVV + 1, sender=alice),
    )
    diem.initiateUnstake(40 * VVV, sender=alice)
    assert diem.stakedInfos(alice)[0::2] == (0, 40 * VVV)
    assert diem.totalStaked() == 0


# ------------------------------------------------------------------ the packed stake word


def test_stake_word__every_write_keeps_the_other_fields(diem, holders, alice, bob, at, t0):
    """Staked (bits 0-103), cooling (104-207) and the cooldown end (208-255) share a slot:
    staking while cooling keeps the bucket and its end, unstaking keeps the stake, a new
    request keeps the stake less its amount. bob, who never acts, is unchanged throughout."""
    cooldown = diem.cooldownDuration()
    diem.stake(30 * VVV, sender=bob)
    bob_state = state(diem, bob)
    diem.stake(40 * VVV, sender=alice)
    at(t0)
    diem.initiateUnstake(15 * VVV, sender=alice)
    assert diem.stakedInfos(alice) == (25 * VVV, t0 + cooldown, 15 * VVV)
    at(t0 + 10)
    diem.stake(7 * VVV + 3, sender=alice)  # while cooling
    assert diem.stakedInfos(alice) == (32 * VVV + 3, t0 + cooldown, 15 * VVV)
    at(t0 + cooldown)
    diem.unstake(sender=alice)
    assert diem.stakedInfos(alice) == (32 * VVV + 3, 0, 0)
    at(t0 + cooldown + 1)
    diem.initiateUnstake(2 * VVV, sender=alice)
    assert diem.stakedInfos(alice) == (30 * VVV + 3, t0 + 2 * cooldown + 1, 2 * VVV)
    assert diem.totalStaked() == 60 * VVV + 3
    assert diem.totalCoolingDown() == 2 * VVV
    assert state(diem, bob) == bob_state


# ------------------------------------------------------------------ deploy bound


@pytest.mark.parametrize(
    "cooldown, reason",
    [(30 * 86_400, None), (30 * 86_400 + 1, "DIEM: cooldown too long")],
)
def test_deploy__cooldown_of_30_days_accepted_one_second_more_refused(
    cooldown, reason, staking, attacker
):
    if reason is None:
        assert project.DIEM.deploy(staking, cooldown, sender=attacker).cooldownDuration() == (
            cooldown
        )
    else:
        with ape.reverts(reason):
            project.DIEM.deploy(staking, cooldown, sender=attacker)


# ------------------------------------------------------------------ the 0.1 DIEM credit minimum


def test_credit__a_tenth_of_a_diem_staked_earns_one_wei_less_earns_nothing(
    chain, suite, diem, holders, alice, bob, carol
):
    """alice stakes exactly 0.1 DIEM: $0.10 a day. bob stakes one wei less, with another wei
    cooling and DIEM in his wallet, so what he holds and has staked or cooling reaches 0.1
    DIEM: only the minimum on *staked* DIEM stands between him and credit. carol, who does
    nothing, keeps none, and bob's actions leave alice's credit as it was."""
    assert MIN_CREDIT_STAKE == 10**17
    client = EntitlementClient(chain.provider.web3, suite.lens.address, ttl=0)
    diem.stake(MIN_CREDIT_STAKE, sender=alice)
    assert client.get(alice.address).daily_credit == daily_credit_micros(10**17) == 100_000

    diem.stake(MIN_CREDIT_STAKE, sender=bob)
    diem.initiateUnstake(1, sender=bob)
    bob_now = client.get(bob.address)
    assert (bob_now.diem_staked, bob_now.diem_cooling) == (MIN_CREDIT_STAKE - 1, 1)
    assert bob_now.daily_credit == 0
    assert client.get(alice.address).daily_credit == 100_000
    assert client.get(carol.address).daily_credit == 0
