"""Griefing: a third party cannot restart someone's unstake cooldown (sVVV or DIEM), and a gift
subscription, however cheap or large, cannot block or shorten anyone's tier.

The attacker plays any sequence (hypothesis) of everything it can do that names its victim or
touches the same contracts: stake for the victim, send it VVV, DIEM or a subscription, stake,
unstake, claim and mint for itself. After every step the victim's cooldown bucket (amount and
unlock time) is unchanged, and at the unlock time the victim withdraws exactly its amount.
A subscriber's expiries never fall, and its own payments always extend by exactly what it pays.
(The one limit: an expiry is kept in 64 bits, so gifts could refuse further extensions only
after pushing a subscription about 5.8e11 years out, at 36 periods a gift.)
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts._lib.fast import Reverted, bind, call_all, revert, send, snapshot, web3

VVV = 10**18
USDC = 10**6
DAY = 86_400
PERIOD = 30 * DAY
MAX_UINT = 2**256 - 1
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ACTIONS = (
    "stake_for_victim",
    "send_vvv",
    "send_diem",
    "gift_subscription",
    "stake",
    "unstake",
    "claim",
    "mint_diem",
    "stake_diem",
    "unstake_diem",
)


@pytest.fixture(scope="module")
def arena(suite, fund, fund_usdc, alice, attacker, owner):
    """alice (the victim) and the attacker: each staked, with DIEM, some of it staked."""
    for who in (alice, attacker):
        fund(who, 2_000_000 * VVV)
        suite.staking.stake(who, 1_000_000 * VVV, sender=who)
        suite.staking.mintDiem(100_000 * VVV, 0, sender=who)
        suite.diem.stake(100 * VVV, sender=who)
        fund_usdc(who, 1_000_000 * USDC, spender=suite.subscriptions)
    return {
        "vvv": bind(suite.vvv),
        "staking": bind(suite.staking),
        "diem": bind(suite.diem),
        "subs": bind(suite.subscriptions),
        "victim": alice.address,
        "attacker": attacker.address,
    }


def now() -> int:
    return int(web3().eth.get_block("latest")["timestamp"])


def grief(a: dict[str, Any], action: str, amount: int, t: int) -> None:
    """One attacker action at time t; a refusal (nothing to claim, say) is part of the game."""
    s, d = a["staking"].functions, a["diem"].functions
    v, x = a["victim"], a["attacker"]
    fn = {
        "stake_for_victim": s.stake(v, amount),
        "send_vvv": a["vvv"].functions.transfer(v, amount),
        "send_diem": d.transfer(v, amount),
        "gift_subscription": a["subs"].functions.subscribe(amount % 3, 1 + amount % 36, v),
        "stake": s.stake(x, amount),
        "unstake": s.initiateUnstake(amount),
        "claim": s.claim(),
        "mint_diem": s.mintDiem(amount * 1_000, 0),
        "stake_diem": d.stake(amount),
        "unstake_diem": d.initiateUnstake(amount),
    }[action]
    with contextlib.suppress(Reverted):  # a refused action is mined all the same, at t
        send(fn, x, t)


@SETTINGS
@given(
    plays=st.lists(
        st.tuples(st.sampled_from(ACTIONS), st.integers(1, 10 * VVV), st.integers(1, 18 * 3_600)),
        min_size=1,
        max_size=8,
    )
)
def test_svvv_cooldown__no_third_party_action_restarts_it(arena, plays):
    a = arena
    s = a["staking"].functions
    v = a["victim"]
    snap = snapshot()
    try:
        t = now() + 10
        send(s.initiateUnstake(50_000 * VVV), v, t)
        bucket = s.cooldowns(v).call()
        unlock = bucket[1]
        assert bucket == [50_000 * VVV, t + s.cooldownDuration().call()]
        for action, amount, gap in plays:
            t += gap
            grief(a, action, amount, t)
            assert s.cooldowns(v).call() == bucket, action
        with pytest.raises(Reverted, match="sVVV: cooldown active"):
            send(s.finalizeUnstake(), v, unlock - 1)
        before = a["vvv"].functions.balanceOf(v).call()
        send(s.finalizeUnstake(), v, unlock)
        assert a["vvv"].functions.balanceOf(v).call() == before + 50_000 * VVV
    finally:
        revert(snap)


@SETTINGS
@given(
    plays=st.lists(
        st.tuples(st.sampled_from(ACTIONS), st.integers(1, 10 * VVV), st.integers(1, 3_600)),
        min_size=1,
        max_size=8,
    )
)
def test_diem_cooldown__no_third_party_action_restarts_it(arena, plays):
    a = arena
    d = a["diem"].functions
    v = a["victim"]
    snap = snapshot()
    try:
        t = now() + 10
        send(d.initiateUnstake(40 * VVV), v, t)
        info = d.stakedInfos(v).call()
        unlock = info[1]
        assert info == [60 * VVV, t + d.cooldownDuration().call(), 40 * VVV]
        for action, amount, gap in plays:
            t += gap
            grief(a, action, amount, t)
            assert d.stakedInfos(v).call() == info, action
        with pytest.raises(Reverted, match="DIEM: cooldown active"):
            send(d.unstake(), v, unlock - 1)
        before = d.balanceOf(v).call()
        send(d.unstake(), v, unlock)
        assert d.balanceOf(v).call() == before + 40 * VVV
    finally:
        revert(snap)


@SETTINGS
@given(
    gifts=st.lists(
        st.tuples(st.integers(0, 2), st.integers(1, 36), st.integers(0, 60 * DAY)),
        min_size=1,
        max_size=6,
    ),
    own=st.tuples(st.integers(0, 2), st.integers(1, 36)),
)
def test_gift_subscriptions__never_block_or_shorten_a_tier(arena, gifts, own):
    """The victim holds a year of Max; any gifts of any tier and length, at any time, leave
    every expiry at least where it was (the gifted tier grows by exactly the gift), and the
    victim's own payment still extends its tier by exactly what it pays for."""
    a = arena
    subs = a["subs"].functions
    v, x = a["victim"], a["attacker"]
    snap = snapshot()
    try:
        t = now() + 10
        send(subs.subscribe(2, 12, v), v, t)

        def expiries() -> list[int]:
            return call_all([subs.expiryOf(v, tier) for tier in range(3)])

        for tier, periods, gap in gifts:
            t += gap + 1
            before = expiries()
            send(subs.subscribe(tier, periods, v), x, t)
            after = expiries()
            assert all(b >= e for b, e in zip(after, before, strict=True))
            assert after[tier] == max(before[tier], t) + periods * PERIOD
            assert subs.proUntil(v).call() == max(after)
        tier, periods = own
        before = expiries()
        send(subs.subscribe(tier, periods, v), v, t + 1)
        assert expiries()[tier] == max(before[tier], t + 1) + periods * PERIOD
    finally:
        revert(snap)
