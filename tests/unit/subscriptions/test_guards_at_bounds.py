"""Subscriptions' guards at their edges (docs/testing.md): periods (1 and 36 accepted,
0 and 37 refused when the payer could pay for them), tiers, the payer's balance and
allowance to the base unit, the tier price bounds, and expiries to the second. Every
account's four expiries share one word: a write to one tier keeps the other three, and a
gift changes nobody's but the recipient's."""

from __future__ import annotations

import ape
import pytest

from tests.support.chain import refused_changing_nothing

USDC = 10**6
PERIOD = 30 * 86_400
PRO, PRO_PLUS, MAX, FOURTH = 0, 1, 2, 3


@pytest.fixture
def payer(alice, subscriptions, fund_usdc):
    """alice: enough USDC and allowance for 40 periods of the dearest tier."""
    fund_usdc(alice, 10_000 * USDC, spender=subscriptions)
    return alice


def expiries(subscriptions, account) -> list[int]:
    return [subscriptions.expiryOf(account, tier) for tier in range(4)]


# ------------------------------------------------------------------ periods and tiers


@pytest.mark.parametrize(
    "periods, reason",
    [(1, None), (0, "subs: periods out of range"), (36, None), (37, "subs: periods out of range")],
)
def test_periods__one_and_36_accepted_0_and_37_refused(
    periods, reason, subscriptions, usdc, payer, at, t0, storage_roots
):
    price = subscriptions.tiers(MAX)[0]
    assert usdc.balanceOf(payer) >= 37 * price  # the payer could pay: only the bound refuses
    before = storage_roots()
    at(t0)
    if reason is None:
        subscriptions.subscribe(MAX, periods, payer, sender=payer)
        assert subscriptions.expiryOf(payer, MAX) == t0 + periods * PERIOD
    else:
        with ape.reverts(reason):
            subscriptions.subscribe(MAX, periods, payer, sender=payer)
        assert storage_roots() == before


def test_tiers__the_fourth_once_offered_accepted_a_fifth_refused(subscriptions, owner, payer):
    assert subscriptions.MAX_TIERS() == 4
    with ape.reverts("subs: tier not offered"):
        subscriptions.subscribe(FOURTH, 1, payer, sender=payer)
    with ape.reverts("subs: unknown tier"):
        subscriptions.subscribe(FOURTH + 1, 1, payer, sender=payer)
    subscriptions.setTier(FOURTH, 1, 0, sender=owner)  # the cheapest price: 1 base unit
    subscriptions.subscribe(FOURTH, 1, payer, sender=payer)
    assert subscriptions.expiryOf(payer, FOURTH) > 0
    with ape.reverts("subs: unknown tier"):
        subscriptions.setTier(FOURTH + 1, 1, 0, sender=owner)


@pytest.mark.parametrize(
    "price, burn, reason",
    [
        (10**12, 0, None),  # MAX_PRICE
        (10**12 + 1, 0, "subs: price too high"),
        (18 * USDC, 18 * USDC, None),  # all of it burned
        (18 * USDC, 18 * USDC + 1, "subs: burn above price"),
    ],
)
def test_set_tier__price_and_burn_bounds(price, burn, reason, subscriptions, owner):
    assert subscriptions.MAX_PRICE() == 10**12
    kept = subscriptions.tiers(PRO)
    if reason is None:
        subscriptions.setTier(PRO, price, burn, sender=owner)
        assert subscriptions.tiers(PRO) == (price, burn)
    else:
        with ape.reverts(reason):
            subscriptions.setTier(PRO, price, burn, sender=owner)
        assert subscriptions.tiers(PRO) == kept


# ------------------------------------------------------------------ balance and allowance


def test_payment__exact_balance_accepted_one_unit_short_refused(
    subscriptions, usdc, bob, fund_usdc, storage_roots
):
    """bob's allowance is unlimited, so only the balance check refuses the short payer."""
    cost = 3 * subscriptions.tiers(PRO)[0]
    fund_usdc(bob, cost - 1, spender=subscriptions)
    refused_changing_nothing(
        storage_roots,
        "subs: not enough USDC",
        lambda: subscriptions.subscribe(PRO, 3, bob, sender=bob),
    )
    fund_usdc(bob, 1)
    subscriptions.subscribe(PRO, 3, bob, sender=bob)
    assert usdc.balanceOf(bob) == 0


def test_payment__exact_allowance_accepted_one_unit_short_refused(
    subscriptions, usdc, bob, fund_usdc, storage_roots
):
    """bob holds plenty, so only the allowance check refuses him."""
    cost = 3 * subscriptions.tiers(PRO)[0]
    fund_usdc(bob, 10 * cost)
    usdc.approve(subscriptions, cost - 1, sender=bob)
    refused_changing_nothing(
        storage_roots,
        "subs: approve USDC first",
        lambda: subscriptions.subscribe(PRO, 3, bob, sender=bob),
    )
    usdc.approve(subscriptions, cost, sender=bob)
    subscriptions.subscribe(PRO, 3, bob, sender=bob)
    assert usdc.balanceOf(bob) == 9 * cost
    assert usdc.allowance(bob, subscriptions) == 0


# ------------------------------------------------------------------ expiries


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_extend__at_the_expiry_second_extends_from_it_one_second_later_from_now(
    offset, subscriptions, payer, at, t0
):
    """At or before the expiry the new periods add to it; one second after (lapsed) they run
    from the renewal."""
    at(t0)
    subscriptions.subscribe(PRO, 1, payer, sender=payer)
    expiry = t0 + PERIOD
    at(expiry + offset)
    subscriptions.subscribe(PRO, 2, payer, sender=payer)
    start = expiry if offset <= 0 else expiry + offset
    assert subscriptions.expiryOf(payer, PRO) == start + 2 * PERIOD


def test_pro__until_the_second_before_expiry_not_at_it(subscriptions, payer, at, mine_at, t0):
    at(t0)
    subscriptions.subscribe(PRO, 1, payer, sender=payer)
    mine_at(t0 + PERIOD - 1)
    assert subscriptions.isPro(payer) is True
    assert subscriptions.proStatus(payer) == (False, True, t0 + PERIOD)
    mine_at(t0 + PERIOD)
    assert subscriptions.isPro(payer) is False
    assert subscriptions.proStatus(payer) == (False, False, t0 + PERIOD)


def test_expiry_word__each_tier_write_keeps_the_other_three_and_a_gift_only_the_recipient(
    subscriptions, owner, payer, bob, carol, at, t0
):
    subscriptions.setTier(FOURTH, 7 * USDC, 1 * USDC, sender=owner)
    expected = [0, 0, 0, 0]
    carol_before = expiries(subscriptions, carol)
    for i, (tier, periods) in enumerate([(PRO_PLUS, 2), (FOURTH, 36), (PRO, 1), (MAX, 5)]):
        at(t0 + i)
        subscriptions.subscribe(tier, periods, bob, sender=payer)  # a gift to bob
        expected[tier] = t0 + i + periods * PERIOD
        assert expiries(subscriptions, bob) == expected
        assert expiries(subscriptions, payer) == [0, 0, 0, 0]  # the payer gains nothing
        assert expiries(subscriptions, carol) == carol_before
    at(t0 + 10)
    subscriptions.subscribe(FOURTH, 1, bob, sender=payer)  # the top 64 bits, extended
    expected[FOURTH] += PERIOD
    assert expiries(subscriptions, bob) == expected
    assert subscriptions.proUntil(bob) == max(expected)
