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
from hypothesis import given
from hypothesis import strategies as st

from tests.support.chain import now, rewound
from tests.support.constants import DAY, PERIOD, USDC, VVV
from tests.support.profiles import MODEST
from venice_ops.rpc import Reverted, bind, call_all, send

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


def plays(longest_gap: int) -> st.SearchStrategy:
    """Up to eight attacker actions, each with an amount and the seconds before it."""
    play = st.tuples(
        st.sampled_from(ACTIONS), st.integers(1, 10 * VVV), st.integers(1, longest_gap)
    )
    return st.lists(play, min_size=1, max_size=8)


def survives(a, games, initiate, bucket, cooldown, withdraw, refusal, balance, amount) -> None:
    """The victim starts a cooldown of `amount` (`initiate`); after every attacker action its
    `bucket` (a view whose second field is the unlock time) is unchanged; `withdraw` is refused
    a second before the unlock time and pays exactly `amount` (read by `balance`) at it."""
    v = a["victim"]
    t = now() + 10
    send(initiate, v, t)
    start = bucket.call()
    unlock = start[1]
    assert unlock == t + cooldown and amount in start
    for action, size, gap in games:
        t += gap
        grief(a, action, size, t)
        assert bucket.call() == start, action
    assert t < unlock
    with pytest.raises(Reverted, match=refusal):
        send(withdraw, v, unlock - 1)
    before = balance.call()
    send(withdraw, v, unlock)
    assert balance.call() == before + amount


@MODEST
@given(games=plays(18 * 3_600))
def test_svvv_cooldown__no_third_party_action_restarts_it(arena, games):
    s, v = arena["staking"].functions, arena["victim"]
    with rewound():
        survives(
            arena,
            games,
            s.initiateUnstake(50_000 * VVV),
            s.cooldowns(v),
            s.cooldownDuration().call(),
            s.finalizeUnstake(),
            "sVVV: cooldown active",
            arena["vvv"].functions.balanceOf(v),
            50_000 * VVV,
        )


@MODEST
@given(games=plays(3_600))
def test_diem_cooldown__no_third_party_action_restarts_it(arena, games):
    d, v = arena["diem"].functions, arena["victim"]
    with rewound():
        survives(
            arena,
            games,
            d.initiateUnstake(40 * VVV),
            d.stakedInfos(v),
            d.cooldownDuration().call(),
            d.unstake(),
            "DIEM: cooldown active",
            d.balanceOf(v),
            40 * VVV,
        )


@MODEST
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
    with rewound():
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
