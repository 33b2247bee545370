"""Subscriptions: tiers priced in USDC whose burn part goes to the buyback-burner and the rest to
the treasury, per-tier expiries (so a gift never blocks or shortens another tier), Pro by a
subscription or by stake, and every bad call refused with a reason and no state change."""

from __future__ import annotations

import ape
import pytest

from tests.support.constants import PERIOD, USDC, VVV

PRO, PRO_PLUS, MAX = 0, 1, 2


@pytest.fixture
def payer(alice, subscriptions, fund_usdc):
    fund_usdc(alice, 10_000 * USDC, spender=subscriptions)
    return alice


def test_defaults__pro_18_burning_2_pro_plus_5_max_10(subscriptions, config):
    assert subscriptions.tiers(PRO) == (18 * USDC, 2 * USDC)
    assert subscriptions.tiers(PRO_PLUS)[1] == 5 * USDC
    assert subscriptions.tiers(MAX)[1] == 10 * USDC
    assert [subscriptions.tiers(i)[0] for i in range(3)] == [t.price for t in config.tiers]
    assert subscriptions.tiers(3) == (0, 0)  # not offered


def test_subscribe__splits_the_payment_and_sets_the_expiry(
    chain, subscriptions, usdc, burner, treasury, payer
):
    before = (usdc.balanceOf(payer), usdc.balanceOf(burner), usdc.balanceOf(treasury))
    receipt = subscriptions.subscribe(PRO, 3, payer, sender=payer)
    now = chain.blocks.head.timestamp
    assert usdc.balanceOf(payer) == before[0] - 54 * USDC
    assert usdc.balanceOf(burner) == before[1] + 6 * USDC
    assert usdc.balanceOf(treasury) == before[2] + 48 * USDC
    assert usdc.balanceOf(subscriptions) == 0
    assert subscriptions.expiryOf(payer, PRO) == now + 3 * PERIOD == receipt.return_value
    assert subscriptions.proUntil(payer) == now + 3 * PERIOD
    assert subscriptions.isPro(payer)
    assert subscriptions.proStatus(payer) == (False, True, now + 3 * PERIOD)
    assert subscriptions.totalPaid() == 54 * USDC
    assert subscriptions.totalBurnPart() == 6 * USDC
    [event] = receipt.events.filter(subscriptions.Subscribed)
    assert (event.payer, event.recipient, event.tier, event.periods) == (
        payer.address,
        payer.address,
        PRO,
        3,
    )
    assert (event.paid, event.burnPart) == (54 * USDC, 6 * USDC)


def test_extend__adds_to_a_running_subscription_and_restarts_a_lapsed_one(
    chain, subscriptions, payer
):
    subscriptions.subscribe(PRO, 1, payer, sender=payer)
    first = subscriptions.expiryOf(payer, PRO)
    subscriptions.subscribe(PRO, 2, payer, sender=payer)
    assert subscriptions.expiryOf(payer, PRO) == first + 2 * PERIOD
    chain.pending_timestamp = first + 3 * PERIOD + 10
    chain.mine()
    assert not subscriptions.isPro(payer)
    subscriptions.subscribe(PRO, 1, payer, sender=payer)
    assert subscriptions.expiryOf(payer, PRO) == chain.blocks.head.timestamp + PERIOD


def test_gift__the_payer_pays_the_recipient_is_pro(subscriptions, usdc, payer, bob):
    before = usdc.balanceOf(bob)
    subscriptions.subscribe(MAX, 1, bob, sender=payer)
    assert usdc.balanceOf(bob) == before
    assert subscriptions.isPro(bob)
    assert not subscriptions.isPro(payer)


def test_tiers__expire_independently_so_a_cheap_gift_blocks_nothing(
    chain, subscriptions, payer, bob, carol, fund_usdc
):
    # Carol gifts Bob a month of Pro; Bob still buys a year of Max, and keeps both.
    fund_usdc(carol, 100 * USDC, spender=subscriptions)
    subscriptions.subscribe(PRO, 1, bob, sender=carol)
    pro = subscriptions.expiryOf(bob, PRO)
    subscriptions.subscribe(MAX, 12, bob, sender=payer)
    assert subscriptions.expiryOf(bob, PRO) == pro
    assert subscriptions.expiryOf(bob, MAX) == chain.blocks.head.timestamp + 12 * PERIOD
    assert subscriptions.proUntil(bob) == subscriptions.expiryOf(bob, MAX)


def test_pro_by_stake__100_vvv_staked(subscriptions, staking, fund, bob):
    assert subscriptions.proStatus(bob) == (False, False, 0)
    fund(bob, 100 * VVV)
    staking.stake(bob, 100 * VVV - 1, sender=bob)
    assert not subscriptions.isPro(bob)
    staking.stake(bob, 1, sender=bob)
    assert subscriptions.isPro(bob)
    assert subscriptions.proStatus(bob) == (True, False, 0)


def test_withdrawn_tier__keeps_running_subscriptions(subscriptions, owner, payer):
    subscriptions.subscribe(PRO_PLUS, 1, payer, sender=payer)
    subscriptions.setTier(PRO_PLUS, 0, 0, sender=owner)
    assert subscriptions.isPro(payer)
    with ape.reverts("subs: tier not offered"):
        subscriptions.subscribe(PRO_PLUS, 1, payer, sender=payer)


@pytest.mark.parametrize(
    "args, reason",
    [
        ((4, 1, "self"), "subs: unknown tier"),
        ((3, 1, "self"), "subs: tier not offered"),
        ((PRO, 0, "self"), "subs: periods out of range"),
        ((PRO, 37, "self"), "subs: periods out of range"),
        ((PRO, 1, "zero"), "subs: zero recipient"),
    ],
)
def test_subscribe__bad_arguments_refused(args, reason, subscriptions, usdc, payer):
    tier, periods, who = args
    recipient = payer.address if who == "self" else "0x" + "00" * 20
    before = usdc.balanceOf(payer)
    with ape.reverts(reason):
        subscriptions.subscribe(tier, periods, recipient, sender=payer)
    assert usdc.balanceOf(payer) == before


def test_subscribe__without_funds_or_approval_refused(subscriptions, usdc, bob, fund_usdc):
    with ape.reverts("subs: not enough USDC"):
        subscriptions.subscribe(PRO, 1, bob, sender=bob)
    fund_usdc(bob, 18 * USDC)
    with ape.reverts("subs: approve USDC first"):
        subscriptions.subscribe(PRO, 1, bob, sender=bob)
    usdc.approve(subscriptions, 18 * USDC, sender=bob)
    with ape.reverts("subs: not enough USDC"):
        subscriptions.subscribe(PRO, 2, bob, sender=bob)
    assert subscriptions.expiryOf(bob, PRO) == 0
    subscriptions.subscribe(PRO, 1, bob, sender=bob)
    assert usdc.balanceOf(bob) == 0


@pytest.mark.parametrize(
    "args, reason",
    [
        ((4, 1, 0), "subs: unknown tier"),
        ((0, 10**12 + 1, 0), "subs: price too high"),
        ((0, 5, 6), "subs: burn above price"),
    ],
)
def test_set_tier__bounded(args, reason, subscriptions, owner):
    with ape.reverts(reason):
        subscriptions.setTier(*args, sender=owner)


def test_governance__owner_only(subscriptions, attacker, owner, payer, usdc, burner):
    for call in (
        lambda: subscriptions.setTier(PRO, 1, 0, sender=attacker),
        lambda: subscriptions.setTreasury(attacker, sender=attacker),
        lambda: subscriptions.setBurner(attacker, sender=attacker),
    ):
        with ape.reverts("ownable: caller is not the owner"):
            call()
    # A new tier price applies to the next payment; paid-up time is untouched.
    subscriptions.subscribe(PRO, 1, payer, sender=payer)
    expiry = subscriptions.expiryOf(payer, PRO)
    subscriptions.setTier(PRO, 36 * USDC, 4 * USDC, sender=owner)
    assert subscriptions.expiryOf(payer, PRO) == expiry
    before = usdc.balanceOf(burner)
    subscriptions.subscribe(PRO, 1, payer, sender=payer)
    assert usdc.balanceOf(burner) == before + 4 * USDC
