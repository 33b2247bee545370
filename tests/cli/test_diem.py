"""The diem command: its checks and messages (`venice_ops/commands/diem.py`) on the deployed
suite, and the click commands in-process on the same Anvil.

Over 500 lines on purpose: every action of the command, checked in-process and through click
against one deployed suite, as tests/cli/test_staker.py does for the staker command.
"""

from __future__ import annotations

import re

import pytest
from ape import chain

from scripts.diem import cli
from tests.support.cli import command_fixture, one_error_line
from tests.support.constants import DAY, HOUR, MINUTE, VVV
from venice_ops.commands import diem
from venice_ops.commands.common import (
    TransactionReverted,
    UserError,
    human,
    parse_amount,
    parse_slippage,
)

DIEM = 10**18


@pytest.fixture
def stake_vvv(fund, staking):
    """Fund an account with VVV and stake it all."""

    def _stake(account, amount: int) -> None:
        fund(account, amount)
        staking.stake(account, amount, sender=account)

    return _stake


@pytest.fixture
def minter(suite, stake_vvv, alice):
    """alice with 10,000 sVVV staked and exactly 10 DIEM minted; returns the sVVV locked."""
    stake_vvv(alice, 10_000 * VVV)
    diem.mint_exact(suite, alice, 10 * DIEM)
    return int(suite.staking.lockedStakes(alice)[0])


def short_curve(suite, owner) -> None:
    """A two-knot curve, 90 -> 100 sVVV per DIEM, ending at 500 DIEM (cost 47,500 sVVV)."""
    suite.curve.setCurve([90 * VVV, 100 * VVV], sender=owner)


################################################################
#                         PURE HELPERS                         #
################################################################


@pytest.mark.parametrize(
    "text, bps", [("0.5", 50), ("1%", 100), ("0", 0), ("2.25", 225), ("100", 10_000)]
)
def test_parse_slippage(text, bps):
    assert parse_slippage(text) == bps


def test_format_bps_and_usd():
    assert diem.format_bps(50) == "0.5%"
    assert diem.format_bps(371) == "3.71%"
    assert diem.format_bps(100) == "1%"
    assert diem.usd(12 * DIEM + DIEM // 2) == "$12.50"
    assert diem.usd(1_234 * DIEM) == "$1,234.00"


################################################################
#                            QUOTES                            #
################################################################


def test_quote__svvv_equals_what_mint_then_mints(suite, staking, stake_vvv, alice):
    stake_vvv(alice, 2_000 * VVV)
    quote = diem.quote_svvv(suite, 1_000 * VVV)
    assert quote.diem == staking.getDiemAmountOut(1_000 * VVV)
    assert quote.message.startswith(f"Locking 1,000 sVVV mints {human(quote.diem)} DIEM now")
    assert "at a DIEM supply of 0)" in quote.message

    outcome = diem.mint(suite, alice, 1_000 * VVV)

    assert suite.diem.balanceOf(alice) == quote.diem
    assert staking.lockedStakes(alice) == (1_000 * VVV, quote.diem)
    assert outcome.message.startswith(f"Locked 1,000 sVVV and minted {human(quote.diem)} DIEM")
    assert "Stake DIEM for daily credit with `diem stake AMOUNT`" in outcome.message


def test_quote__diem_equals_what_mint_exact_then_locks(suite, staking, stake_vvv, alice, bob):
    stake_vvv(bob, 1_000_000 * VVV)
    diem.mint_exact(suite, bob, 5_000 * DIEM)  # not at supply 0: the curve has risen
    stake_vvv(alice, 2_000 * VVV)
    quote = diem.quote_diem(suite, 10 * DIEM)
    assert quote.svvv == staking.getSVVVAmountIn(10 * DIEM)
    assert quote.message.startswith(f"Minting exactly 10 DIEM locks {human(quote.svvv)} sVVV")
    assert "at a DIEM supply of 5,000)" in quote.message

    outcome = diem.mint_exact(suite, alice, 10 * DIEM)

    assert suite.diem.balanceOf(alice) == 10 * DIEM
    assert staking.lockedStakes(alice) == (quote.svvv, 10 * DIEM)
    assert outcome.message.startswith(f"Locked {human(quote.svvv)} sVVV and minted 10 DIEM")


def test_quote__punitive_mode_credits_a_fraction(suite, owner):
    open_quote = diem.quote_svvv(suite, 10 * VVV).diem
    suite.curve.setLaunchMode(1, 100, sender=owner)
    quote = diem.quote_svvv(suite, 1_000 * VVV)
    assert quote.diem == open_quote  # 1,000 sVVV counts as 10
    assert "Launch mode is punitive: each sVVV locked counts as 1/100" in quote.message


def test_quote__too_little_mints_nothing(suite):
    with pytest.raises(UserError) as info:
        diem.quote_svvv(suite, 1)
    assert str(info.value) == (
        "too little: locking 0.000000000000000001 sVVV mints no DIEM at the current rate "
        "(90 sVVV per DIEM); lock more sVVV"
    )


def test_quote_and_mint__minting_closed(suite, owner, stake_vvv, alice):
    stake_vvv(alice, 1_000 * VVV)
    suite.curve.setLaunchMode(0, 100, sender=owner)
    nonce = alice.nonce
    for attempt in (
        lambda: diem.quote_svvv(suite, VVV),
        lambda: diem.quote_diem(suite, DIEM),
        lambda: diem.mint(suite, alice, VVV),
        lambda: diem.mint_exact(suite, alice, DIEM),
    ):
        with pytest.raises(UserError, match="minting is closed: the mint curve's launch mode"):
            attempt()
    assert alice.nonce == nonce


def test_quote_and_mint__past_the_curves_end(suite, owner, stake_vvv, alice):
    short_curve(suite, owner)
    stake_vvv(alice, 100_000 * VVV)

    with pytest.raises(UserError) as info:
        diem.mint_exact(suite, alice, 500 * DIEM)
    assert str(info.value) == (
        "past the curve's end: the mint curve ends at 500 DIEM of supply and 0 DIEM is "
        "outstanding; minting 500 DIEM would reach it. Mint at most 499.9999 DIEM"
    )
    with pytest.raises(UserError) as info:
        diem.mint(suite, alice, 47_500 * VVV)
    assert str(info.value) == (
        "past the curve's end: the mint curve ends at 500 DIEM of supply and 0 DIEM is "
        "outstanding; locking 47,500 sVVV would pass its end. Lock at most 47,499.9999 sVVV"
    )
    # The largest mint it names goes through.
    most = diem.max_svvv_in(suite, diem.read_curve(suite))
    assert most == 47_500 * VVV - 1
    diem.mint(suite, alice, most)
    assert suite.staking.totalDiemOutstanding() < 500 * DIEM


################################################################
#                             MINT                             #
################################################################


def test_mint__nothing_staked(suite, alice):
    with pytest.raises(UserError) as info:
        diem.mint(suite, alice, 100 * VVV)
    assert str(info.value) == (
        f"not enough unlocked sVVV: account {alice.address} has no VVV staked and this mint "
        "locks 100 sVVV; stake VVV first with `ape run staker stake AMOUNT`"
    )


def test_mint__not_enough_unlocked_svvv(suite, stake_vvv, alice):
    stake_vvv(alice, 1_000 * VVV)
    diem.mint(suite, alice, 400 * VVV)

    with pytest.raises(UserError) as info:
        diem.mint(suite, alice, 700 * VVV)
    assert str(info.value) == (
        "not enough unlocked sVVV: you have 1,000 sVVV staked, 400 locked behind DIEM, 600 "
        "free; this mint locks 700. Stake more with `ape run staker stake AMOUNT`, or mint "
        "with at most 600 sVVV"
    )
    cost = diem.quote_diem(suite, 10 * DIEM).svvv
    with pytest.raises(UserError, match=re.escape(f"this mint locks {human(cost)}. Stake more")):
        diem.mint_exact(suite, alice, 10 * DIEM)


def test_mint__a_stale_quote_is_refused_before_sending(suite, stake_vvv, alice, bob):
    stake_vvv(alice, 2_000 * VVV)
    stake_vvv(bob, 1_000_000 * VVV)
    seen = diem.quote_svvv(suite, 1_000 * VVV).diem
    cost = diem.quote_diem(suite, 10 * DIEM).svvv
    diem.mint_exact(suite, bob, 10_000 * DIEM)  # moves the curve by ~3.7%
    now = diem.quote_svvv(suite, 1_000 * VVV).diem
    nonce = alice.nonce

    with pytest.raises(UserError) as info:
        diem.mint(suite, alice, 1_000 * VVV, 50, quoted=seen)
    needed = -(-(seen - now) * 10_000 // (seen))
    assert str(info.value) == (
        f"the quote moved: locking 1,000 sVVV was quoted at {human(seen)} DIEM and now mints "
        f"{human(now)} DIEM, {human(seen - now)} DIEM ({(seen - now) * 100 / seen:.2f}%) less, "
        "beyond the 0.5% slippage allowed; run again to mint at the new price, or allow a "
        f"larger move with --slippage {diem.format_bps(needed)[:-1]} or more"
    )
    with pytest.raises(UserError, match=r"the quote moved: minting 10 DIEM was quoted at .* more"):
        diem.mint_exact(suite, alice, 10 * DIEM, 50, quoted=cost)
    assert alice.nonce == nonce

    # The suggested slippage is enough.
    diem.mint(suite, alice, 1_000 * VVV, needed, quoted=seen)
    assert suite.diem.balanceOf(alice) == now


def test_mint__a_quote_moved_by_a_mint_landing_first(suite, stake_vvv, alice, bob, monkeypatch):
    stake_vvv(alice, 2_000 * VVV)
    stake_vvv(bob, 3_000_000 * VVV)  # two front-runs of 10,000 DIEM
    real_send = diem.send

    def front_run(method, *args, sender):
        if sender == alice:  # bob's mint lands between alice's quote and her transaction
            real_send(suite.staking.mintExactDiem, 10_000 * DIEM, 10**30, sender=bob)
        return real_send(method, *args, sender=sender)

    monkeypatch.setattr(diem, "send", front_run)
    with pytest.raises(UserError) as info:
        diem.mint(suite, alice, 1_000 * VVV)
    assert str(info.value).startswith("the quote moved: locking 1,000 sVVV was quoted at ")
    assert "beyond the 0.5% slippage allowed; run again to mint at the new price, or allow a " in (
        str(info.value)
    )
    assert re.search(r"--slippage 3\.\d+ or more$", str(info.value))

    with pytest.raises(UserError, match=r"the quote moved: minting 10 DIEM .* sVVV \(\d"):
        diem.mint_exact(suite, alice, 10 * DIEM)
    assert suite.diem.balanceOf(alice) == 0


################################################################
#                             BURN                             #
################################################################


def test_burn__nothing_minted(suite, alice):
    with pytest.raises(UserError) as info:
        diem.burn(suite, alice, DIEM)
    assert str(info.value) == (
        "nothing to burn: this account has no DIEM outstanding; mint first with `diem mint AMOUNT`"
    )


def test_burn__diem_bought_on_the_market_unlocks_nothing(suite, minter, alice, bob):
    suite.diem.transfer(bob, 4 * DIEM, sender=alice)
    with pytest.raises(UserError) as info:
        diem.burn(suite, bob, DIEM)
    assert str(info.value) == (
        "this account has no DIEM lock to release: it holds 4 DIEM but minted none that is "
        "outstanding. DIEM bought on the market (or received) unlocks nothing: only the "
        "account that minted DIEM can burn it, against its own lock"
    )


def test_burn__more_than_outstanding(suite, stake_vvv, minter, alice, bob):
    stake_vvv(bob, 10_000 * VVV)
    diem.mint_exact(suite, bob, 5 * DIEM)
    suite.diem.transfer(alice, 5 * DIEM, sender=bob)  # alice now holds 15, owes 10

    with pytest.raises(UserError) as info:
        diem.burn(suite, alice, 12 * DIEM)
    assert str(info.value) == (
        f"you can burn at most 10 DIEM: that is what this account minted and has outstanding "
        f"(locking {human(minter)} sVVV), not 12; the other 5 DIEM you hold was minted by "
        "other accounts, and DIEM bought on the market unlocks nothing"
    )


def test_burn__more_than_the_free_balance_some_is_staked(suite, minter, alice):
    diem.stake(suite, alice, 6 * DIEM)
    with pytest.raises(UserError) as info:
        diem.burn(suite, alice, 5 * DIEM)
    assert str(info.value) == (
        "only 4 DIEM is free in your wallet, the burn needs 5: 6 DIEM is staked: unstake first "
        "with `diem unstake AMOUNT`, then `diem finalize` after the 1 day cooldown"
    )
    diem.unstake(suite, alice, 2 * DIEM)
    with pytest.raises(UserError, match=r"2 DIEM is cooling down \(1 day left, then `diem fin"):
        diem.burn(suite, alice, 5 * DIEM)


def test_burn__more_than_the_wallet_holds(suite, minter, alice, bob):
    suite.diem.transfer(bob, 8 * DIEM, sender=alice)
    with pytest.raises(UserError) as info:
        diem.burn(suite, alice, 5 * DIEM)
    assert str(info.value) == (
        "only 2 DIEM is in your wallet, the burn needs 5: DIEM sent away has to come back to "
        "be burned"
    )


def test_released_by_burn():
    assert diem.released_by_burn(1_000, 3, 1) == 333
    assert diem.released_by_burn(1_000, 3, 3) == 1_000
    assert diem.released_by_burn(1_000 - 333, 2, 2) == 667  # the rest, no dust left


def test_burn__partial_then_all_returns_exactly_the_locked_svvv(suite, staking, minter, alice):
    expected = 4 * DIEM * minter // (10 * DIEM)
    assert diem.released_by_burn(minter, 10 * DIEM, 4 * DIEM) == expected

    partial = diem.burn(suite, alice, 4 * DIEM)

    assert staking.lockedStakes(alice) == (minter - expected, 6 * DIEM)
    assert partial.message == (
        f"Burned 4 DIEM and released {human(expected)} sVVV; {human(minter - expected, 4)} "
        "sVVV stays locked behind 6 DIEM. Released sVVV can be unstaked with "
        "`staker unstake AMOUNT`"
    )

    rest = diem.burn(suite, alice, 6 * DIEM)

    (log,) = rest.receipts[0].decode_logs(staking.DiemBurned)
    assert log.sVVVReleased == minter - expected  # no rounding dust stays locked
    assert staking.lockedStakes(alice) == (0, 0)
    assert suite.diem.balanceOf(alice) == 0
    assert staking.balanceOf(alice) == 10_000 * VVV
    assert rest.message.startswith(
        f"Burned 6 DIEM, all this account had outstanding, and released all "
        f"{human(minter - expected)} sVVV locked behind it; nothing is locked now"
    )


def test_burn__a_revert_the_checks_missed_carries_the_reason(suite, alice, monkeypatch):
    monkeypatch.setattr(diem, "check_burn", lambda *_: (0, DIEM))
    with pytest.raises(TransactionReverted, match="reverted: sVVV: no DIEM outstanding"):
        diem.burn(suite, alice, DIEM)


################################################################
#                     STAKE / UNSTAKE / FINALIZE               #
################################################################


def test_stake__nothing_in_the_wallet(suite, alice):
    with pytest.raises(UserError) as info:
        diem.stake(suite, alice, DIEM)
    assert str(info.value) == ("no DIEM in the wallet to stake; mint some with `diem mint AMOUNT`")


def test_stake__more_than_the_balance(suite, minter, alice):
    with pytest.raises(UserError) as info:
        diem.stake(suite, alice, parse_amount("10.5"))
    assert str(info.value) == (
        "you have 10 DIEM in the wallet, cannot stake 10.5; stake at most 10"
    )


def test_stake__earns_credit(suite, minter, alice):
    outcome = diem.stake(suite, alice, parse_amount("7.5"))
    assert suite.diem.stakedInfos(alice) == (parse_amount("7.5"), 0, 0)
    assert suite.diem.balanceOf(alice) == parse_amount("2.5")
    assert outcome.message == "Staked 7.5 DIEM; 7.5 DIEM is staked now, API credit $7.50 per day"


def test_stake__below_the_credit_minimum(suite, minter, alice):
    outcome = diem.stake(suite, alice, parse_amount("0.05"))
    assert outcome.message == (
        "Staked 0.05 DIEM; 0.05 DIEM is staked now, API credit $0 per day: 0.05 DIEM staked is "
        "below the 0.1 DIEM minimum, so no credit can be spent; stake more"
    )


def test_unstake__nothing_staked(suite, minter, alice):
    with pytest.raises(UserError, match=r"nothing to unstake: account 0x\w+ has no DIEM staked"):
        diem.unstake(suite, alice, DIEM)


def test_unstake__more_than_staked(suite, minter, alice):
    diem.stake(suite, alice, 3 * DIEM)
    with pytest.raises(UserError) as info:
        diem.unstake(suite, alice, 4 * DIEM)
    assert str(info.value) == "you have 3 DIEM staked, cannot unstake 4; unstake at most 3"


def test_unstake__starts_the_cooldown_and_restarts_it(suite, minter, alice):
    diem.stake(suite, alice, 10 * DIEM)

    first = diem.unstake(suite, alice, 3 * DIEM)
    assert first.message.startswith("Started unstaking 3 DIEM: 3 DIEM is cooling down until ")
    assert first.message.endswith(
        "(1 day); then run `diem finalize`. It no longer counts for credit: 7 DIEM stays "
        "staked, API credit $7.00 per day"
    )

    second = diem.unstake(suite, alice, 2 * DIEM)
    assert "5 DIEM is cooling down" in second.message
    assert second.message.endswith(
        "The 3 DIEM already cooling joined this request and its timer restarted"
    )
    staked, end, cooling = suite.diem.stakedInfos(alice)
    assert (staked, cooling) == (5 * DIEM, 5 * DIEM)
    assert end == chain.blocks.head.timestamp + DAY


def test_finalize__nothing_cooling(suite, alice):
    with pytest.raises(UserError) as info:
        diem.finalize(suite, alice)
    assert str(info.value) == (
        "nothing to finalize: no DIEM is cooling down; start with `diem unstake AMOUNT` and "
        "finalize after the 1 day cooldown"
    )


def test_finalize__too_early_says_how_long_is_left(suite, minter, alice):
    diem.stake(suite, alice, 10 * DIEM)
    diem.unstake(suite, alice, 4 * DIEM)
    end = int(suite.diem.stakedInfos(alice)[1])
    chain.mine(timestamp=end - (23 * HOUR + 10 * MINUTE))

    with pytest.raises(UserError) as info:
        diem.finalize(suite, alice)
    assert "too early: the cooldown has 23 hours 10 minutes left for your 4 DIEM" in str(info.value)
    assert "run `diem finalize` again then" in str(info.value)


def test_finalize__after_a_day(suite, minter, alice):
    diem.stake(suite, alice, 10 * DIEM)
    diem.unstake(suite, alice, 4 * DIEM)
    chain.mine(timestamp=chain.pending_timestamp + DAY)

    outcome = diem.finalize(suite, alice)

    assert suite.diem.stakedInfos(alice) == (6 * DIEM, 0, 0)
    assert suite.diem.balanceOf(alice) == 4 * DIEM
    assert outcome.message == "Unstaked 4 DIEM; the wallet holds 4 DIEM now"


################################################################
#                            STATUS                            #
################################################################


def test_status__values(suite, staking, minter, alice, bob):
    diem.stake(suite, alice, 8 * DIEM)
    diem.unstake(suite, alice, parse_amount("1.5"))
    chain.mine(timestamp=chain.pending_timestamp + HOUR)

    status = diem.read_status(suite, alice.address)

    assert status.svvv_staked == 10_000 * VVV
    assert status.locked == minter and status.free_svvv == 10_000 * VVV - minter
    assert status.outstanding == 10 * DIEM
    assert status.diem_balance == 2 * DIEM
    assert status.diem_staked == parse_amount("6.5")
    assert status.cooling == parse_amount("1.5")
    assert DAY - 2 * HOUR < status.cooldown_left < DAY - HOUR + 60
    assert status.daily_credit == parse_amount("6.5")
    assert status.curve.supply == 10 * DIEM
    assert status.rate == suite.curve.rateAt(10 * DIEM)
    assert status.curve.end_supply == suite.curve.endSupply()
    assert status.to_the_end == suite.curve.endSupply() - 10 * DIEM
    rows = dict(diem.status_rows(status))
    assert rows["locked behind DIEM"] == f"{human(minter, 4)} sVVV"
    assert rows["DIEM outstanding"] == "10 DIEM (minted by this account)"
    assert rows["DIEM in wallet"] == "2 DIEM"
    assert rows["DIEM staked"] == "6.5 DIEM"
    assert rows["cooling down"].startswith("1.5 DIEM, 23 hours left (until ")
    assert rows["daily credit"] == "$6.50 per day"
    assert rows["DIEM supply"] == "10 DIEM"
    assert rows["marginal rate"] == f"{human(status.rate, 4)} sVVV per DIEM"
    assert rows["curve end"] == (
        f"at {human(status.curve.end_supply, 4)} DIEM of supply, "
        f"{human(status.to_the_end, 4)} DIEM away"
    )
    assert rows["launch mode"] == "open"

    chain.mine(timestamp=int(suite.diem.stakedInfos(alice)[1]))
    rows = dict(diem.status_rows(diem.read_status(suite, alice.address)))
    assert rows["cooling down"] == "1.5 DIEM, ready: run `diem finalize`"


def test_status__no_credit_below_a_tenth_of_a_diem(suite, minter, alice):
    diem.stake(suite, alice, parse_amount("0.09"))
    status = diem.read_status(suite, alice.address)
    assert status.diem_staked == parse_amount("0.09")
    assert status.daily_credit == 0
    assert dict(diem.status_rows(status))["daily credit"] == (
        "$0 per day: 0.09 DIEM staked is below the 0.1 DIEM minimum, so no credit can be "
        "spent; stake more"
    )
    diem.stake(suite, alice, parse_amount("0.01"))
    assert diem.read_status(suite, alice.address).daily_credit == DIEM // 10


def test_status__empty_account_and_launch_modes(suite, owner, alice):
    status = diem.read_status(suite, alice.address)
    rows = dict(diem.status_rows(status))
    assert rows["DIEM staked"] == "0 DIEM"
    assert rows["cooling down"] == "nothing"
    assert rows["daily credit"] == "$0 per day (no DIEM staked)"
    assert rows["marginal rate"] == "90 sVVV per DIEM"

    suite.curve.setLaunchMode(1, 100, sender=owner)
    rows = dict(diem.status_rows(diem.read_status(suite, alice.address)))
    assert rows["launch mode"] == "punitive (each sVVV locked counts as 1/100)"
    assert rows["marginal rate"] == "90 sVVV per DIEM (9,000 in punitive mode)"

    suite.curve.setLaunchMode(0, 100, sender=owner)
    rows = dict(diem.status_rows(diem.read_status(suite, alice.address)))
    assert rows["launch mode"] == "closed (minting is paused by governance)"


################################################################
#                 THE COMMANDS, IN-PROCESS (CLICK)             #
################################################################


run = command_fixture(cli)


def test_cli__quote(run, manifests, suite, staking):
    result = run(manifests, "quote", "1000")
    assert result.exit_code == 0, result.stderr
    out = human(staking.getDiemAmountOut(1_000 * VVV))
    assert f"Locking 1,000 sVVV mints {out} DIEM now" in result.stdout

    result = run(manifests, "quote", "12.5", "--diem")
    assert result.exit_code == 0, result.stderr
    cost = human(staking.getSVVVAmountIn(parse_amount("12.5")))
    assert f"Minting exactly 12.5 DIEM locks {cost} sVVV now" in result.stdout


def test_cli__mint_stake_burn_and_status(run, manifests, suite, staking, stake_vvv, alice):
    stake_vvv(alice, 5_000 * VVV)
    quoted = staking.getDiemAmountOut(1_000 * VVV)

    minted = run(manifests, "mint", "1000", "--slippage", "1", "--account", "TEST::3")
    assert minted.exit_code == 0, minted.stderr
    assert f"Locked 1,000 sVVV and minted {human(quoted)} DIEM" in minted.stdout
    assert suite.diem.balanceOf(alice) == quoted

    exact = run(manifests, "mint", "2.5", "--diem", "--account", "TEST::3")
    assert exact.exit_code == 0, exact.stderr
    assert "and minted 2.5 DIEM" in exact.stdout

    staked = run(manifests, "stake", "2", "--account", "TEST::3")
    assert staked.exit_code == 0, staked.stderr
    assert "Staked 2 DIEM; 2 DIEM is staked now, API credit $2.00 per day" in staked.stdout

    burned = run(manifests, "burn", "1", "--account", "TEST::3")
    assert burned.exit_code == 0, burned.stderr
    assert "Burned 1 DIEM and released " in burned.stdout

    status = run(manifests, "status", alice.address)
    assert status.exit_code == 0, status.stderr
    assert "$2.00 per day" in status.stdout
    assert "launch mode" in status.stdout and "open" in status.stdout


def test_cli__unstake_and_finalize(run, manifests, suite, minter, alice):
    diem.stake(suite, alice, 10 * DIEM)
    started = run(manifests, "unstake", "4", "--account", "TEST::3")
    assert started.exit_code == 0, started.stderr
    assert "4 DIEM is cooling down until " in started.stdout

    early = run(manifests, "finalize", "--account", "TEST::3")
    assert early.exit_code == 1
    assert "error: too early: the cooldown has 1 day left for your 4 DIEM" in early.stderr

    chain.mine(timestamp=chain.pending_timestamp + DAY)
    done = run(manifests, "finalize", "--account", "TEST::3")
    assert done.exit_code == 0, done.stderr
    assert "Unstaked 4 DIEM" in done.stdout


def test_cli__minting_closed(run, manifests, suite, owner):
    suite.curve.setLaunchMode(0, 100, sender=owner)
    result = run(manifests, "quote", "10")
    assert result.exit_code == 1
    assert "error: minting is closed" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("quote", "-5"), "error: bad amount: '-5' is negative"),
        (("quote", "0", "--diem"), "error: bad amount: '0' is zero"),
        (("mint", "lots"), "error: bad amount: 'lots' is not a number"),
        (("mint", "1", "--slippage", "abc"), "error: bad slippage: 'abc' is not a number"),
        (("mint", "1", "--slippage", "0.001"), "finer than 0.01%"),
        (("mint", "100", "--account", "TEST::3"), "not enough unlocked sVVV"),
        (("mint", "1", "--diem", "--account", "TEST::3"), "not enough unlocked sVVV"),
        (("mint", "1000000", "--diem"), "past the curve's end"),
        (("burn", "5", "--account", "TEST::3"), "nothing to burn"),
        (("stake", "5", "--account", "TEST::3"), "no DIEM in the wallet to stake"),
        (("unstake", "5", "--account", "TEST::3"), "nothing to unstake"),
        (("finalize", "--account", "TEST::3"), "nothing to finalize"),
        (("status", "0xnope"), "'0xnope' is not an address"),
    ],
)
def test_cli__user_mistakes_exit_1_with_one_line(run, manifests, args, message):
    one_error_line(run(manifests, *args), message)
