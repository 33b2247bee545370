"""The value-capture commands: the keeper's buyback round, subscriptions and the airdrop
(`venice_ops/commands/value.py`) on the deployed suite, and the click commands in-process on the
same Anvil (`scripts/keeper.py`, `scripts/subscribe.py`, `scripts/airdrop.py`).

Over 500 lines on purpose: the three value-capture commands share one deployed suite and
their fixtures (revenue, tiers, an airdrop tree).
"""

from __future__ import annotations

import fcntl
import json
import re
from pathlib import Path

import pytest
from ape import chain
from click.testing import CliRunner

from scripts import airdrop as airdrop_cmd
from scripts import keeper as keeper_cmd
from scripts import subscribe as subscribe_cmd
from tests.support.cli import command_fixture, one_error_line
from tests.support.constants import PERIOD, USDC, VVV
from venice_ops.commands import value
from venice_ops.commands.common import UserError
from venice_ops.deploy.airdrop_tree import AirdropTree, read_csv
from venice_ops.deploy.suite import load_suite
from venice_ops.deploy.verify import verification_dir


def table_rows(stdout: str) -> dict[str, str]:
    """A two-column status table as {label: value}."""
    pairs = (line.strip().split(maxsplit=1) for line in stdout.strip().splitlines())
    return {label: text.strip() for label, text in pairs}


def mine_at_least(timestamp: int) -> None:
    """Mine an empty block at `timestamp`, or one second after the head if that is later."""
    chain.mine(timestamp=max(timestamp, chain.blocks.head.timestamp + 1))


################################################################
#                            KEEPER                            #
################################################################


@pytest.fixture
def revenue(burner, fund_usdc):
    """USDC in the buyback-burner, as the subscriptions contract sends it."""
    return lambda amount: fund_usdc(burner, amount)


@pytest.fixture
def fresh_twap(suite, burner, keeper):
    """Make the burner's TWAP usable in the next block: a fresh observation (when one is due),
    then its window. The pool has not moved since, so the TWAP equals the spot price."""

    def _fresh() -> None:
        window = int(burner.minTwapWindow())
        if chain.pending_timestamp - int(burner.observations()[2]) >= window:
            burner.update(sender=keeper)
        mine_at_least(int(burner.observations()[2]) + window)
        assert value.twap_problem(suite) is None
        assert burner.twapPrice() == burner.spotPrice()

    return _fresh


@pytest.fixture
def keep(invoke):
    return lambda manifests, *args: invoke(keeper_cmd.cli, manifests, *args)


def usdc_vvv_path(suite) -> list[str]:
    return [suite.usdc.address, suite.vvv.address]


def test_keeper__nothing_to_do_below_the_threshold(
    keep, manifests, burner, usdc, vvv, revenue, fresh_twap
):
    fresh_twap()
    revenue(999 * USDC + 990_000)
    supply = vvv.totalSupply()

    result = keep(manifests)

    assert result.exit_code == 0, result.stderr
    assert "Revenue $999.99 is below the threshold $1,000.00: nothing to buy" in result.stdout
    assert usdc.balanceOf(burner) == 999 * USDC + 990_000
    assert burner.totalSpent() == 0
    assert vvv.totalSupply() == supply

    # The same below a threshold given on the command line.
    revenue(9_000 * USDC)
    result = keep(manifests, "--threshold", "10000.5")
    assert result.exit_code == 0, result.stderr
    assert "Revenue $9,999.99 is below the threshold $10,000.50" in result.stdout
    assert burner.totalSpent() == 0


def test_keeper__nothing_to_do_still_keeps_the_twap_fresh(suite, burner, keeper):
    window = int(burner.minTwapWindow())
    mine_at_least(int(burner.observations()[2]) + window)

    outcome = value.run_keeper(suite, keeper, 1_000 * USDC, 100)

    assert outcome.action == "nothing-to-do"
    assert outcome.message == (
        "Revenue $0.00 is below the threshold $1,000.00: nothing to buy "
        "(recorded a price observation)."
    )
    (receipt,) = outcome.receipts
    assert int(burner.observations()[2]) == receipt.timestamp

    again = value.run_keeper(suite, keeper, 1_000 * USDC, 100)
    assert again.action == "nothing-to-do" and again.receipts == ()
    assert again.message == "Revenue $0.00 is below the threshold $1,000.00: nothing to buy."


def test_keeper__stale_twap_observes_then_waits_then_buys(
    suite, burner, router, usdc, vvv, keeper, revenue
):
    revenue(1_500 * USDC)
    window, max_age = int(burner.minTwapWindow()), int(burner.maxTwapAge())
    mine_at_least(int(burner.observations()[2]) + max_age + 60)
    assert value.twap_problem(suite).startswith("stale: the newest price observation is ")

    observed = value.run_keeper(suite, keeper, 1_000 * USDC, 100)

    assert observed.action == "observed"
    (receipt,) = observed.receipts
    newer = int(burner.observations()[2])
    assert newer == receipt.timestamp
    assert "The TWAP is not usable yet (stale: the newest price observation is " in (
        observed.message
    )
    assert "limit); recorded a price observation." in observed.message
    # "in" counts from the node's pending time, which follows the wall clock: a slow machine
    # may have let a second or two pass since the observation was mined.
    assert any(
        f"Run again after {value.format_time(newer + window)} "
        f"(in {value.format_duration(window - late)})." in observed.message
        for late in range(6)
    ), observed.message

    # At once again: no observation is due, nothing is sent.
    nonce = keeper.nonce
    waiting = value.run_keeper(suite, keeper, 1_000 * USDC, 100)
    assert waiting.action == "waiting" and waiting.receipts == ()
    # The older observation is stale, but the newer one only too fresh: not "stale TWAP".
    assert "(too fresh: the newest price observation is " in waiting.message
    assert "stale" not in waiting.message
    assert "no observation is due yet" in waiting.message
    assert f"Run again after {value.format_time(newer + window)}" in waiting.message
    assert keeper.nonce == nonce
    assert int(burner.observations()[2]) == newer
    assert usdc.balanceOf(burner) == 1_500 * USDC

    # After the window it buys: the whole revenue, burned to the wei.
    mine_at_least(newer + window)
    assert value.twap_problem(suite) is None
    plan = value.plan_buyback(suite, 1_500 * USDC, 100)
    assert plan.amount_in == 1_500 * USDC
    assert plan.expected_out == router.getAmountsOut(plan.amount_in, usdc_vvv_path(suite))[1]
    supply = vvv.totalSupply()

    bought = value.run_keeper(suite, keeper, 1_000 * USDC, 100)

    assert bought.action == "bought"
    (receipt,) = bought.receipts
    (event,) = receipt.decode_logs(burner.BuybackExecuted)
    assert event.amountIn == plan.amount_in
    assert event.vvvBurned == event.vvvBought == plan.expected_out
    assert usdc.balanceOf(burner) == 0
    assert burner.totalSpent() == plan.amount_in
    assert vvv.totalSupply() == supply - event.vvvBurned
    assert vvv.balanceOf(burner) == 0
    assert bought.message == (
        f"Bought back $1,500.00 of VVV and burned {value.vvv(event.vvvBurned)} "
        f"(total burned by the buyback-burner: {value.vvv(event.vvvBurned)})."
    )


def test_keeper__twap_window_too_short_right_after_deploy(suite, burner, keeper, revenue):
    """Both observations are the deploy's: the keeper waits for the window without sending."""
    revenue(2_000 * USDC)
    older, _, newer, _ = (int(x) for x in burner.observations())
    if chain.pending_timestamp - newer >= int(burner.minTwapWindow()):
        pytest.skip("the chain clock has already moved past the deploy's window")
    assert older == newer
    assert value.twap_problem(suite).startswith("too fresh: the price observations are ")
    outcome = value.run_keeper(suite, keeper, 1_000 * USDC, 100)
    assert outcome.action == "waiting" and outcome.receipts == ()


def test_keeper__cli_buys_and_burns(keep, manifests, suite, burner, usdc, vvv, revenue, fresh_twap):
    revenue(1_000 * USDC)
    fresh_twap()
    plan = value.plan_buyback(suite, 1_000 * USDC, 100)
    supply = vvv.totalSupply()

    result = keep(manifests)

    assert result.exit_code == 0, result.stderr
    burned = supply - vvv.totalSupply()
    assert burned == plan.expected_out > plan.min_out
    assert burner.totalSpent() == plan.amount_in == 1_000 * USDC
    assert usdc.balanceOf(burner) == 0
    assert f"Bought back $1,000.00 of VVV and burned {value.vvv(burned)}" in result.stdout


def test_keeper__buys_when_the_window_opens_after_the_latest_block(
    keep, manifests, suite, burner, usdc, keeper, revenue
):
    """On an idle chain the latest block is older than the block the buyback lands in: the
    window is open for the pending block but not yet at the latest one. The keeper decides
    and prices for the pending block, so it buys (a view at the latest block reverts)."""
    revenue(1_000 * USDC)
    burner.update(sender=keeper)
    newer = int(burner.observations()[2])
    window = int(burner.minTwapWindow())
    chain.mine(timestamp=newer + window - 1)
    chain.pending_timestamp = newer + window
    assert value.twap_problem(suite) is None

    result = keep(manifests)

    assert result.exit_code == 0, result.stderr
    assert "Bought back $1,000.00 of VVV" in result.stdout
    assert usdc.balanceOf(burner) == 0


def test_keeper__dry_run_sends_nothing(
    keep, manifests, suite, burner, usdc, vvv, keeper, revenue, fresh_twap
):
    revenue(2_500 * USDC)
    fresh_twap()
    plan = value.plan_buyback(suite, 2_500 * USDC, 100)
    before = (keeper.nonce, chain.blocks.head.number, vvv.totalSupply(), usdc.balanceOf(burner))

    result = keep(manifests, "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        f"Dry run: would buy back $2,500.00 of $2,500.00 revenue for about "
        f"{value.vvv(plan.expected_out)} (at least {value.vvv(plan.min_out)}; TWAP amount "
        f"{value.vvv(plan.twap_out)}), then burn it."
    )
    after = (keeper.nonce, chain.blocks.head.number, vvv.totalSupply(), usdc.balanceOf(burner))
    assert after == before


def test_keeper__dry_run_with_a_stale_twap_records_nothing(suite, burner, keeper, revenue):
    revenue(2_500 * USDC)
    window = int(burner.minTwapWindow())
    mine_at_least(int(burner.observations()[2]) + int(burner.maxTwapAge()) + 60)
    observations = burner.observations()
    nonce = keeper.nonce

    outcome = value.run_keeper(suite, keeper, 1_000 * USDC, 100, dry_run=True)

    assert outcome.receipts == ()
    assert keeper.nonce == nonce and burner.observations() == observations
    assert "would record a price observation" in outcome.message
    # A real run would observe now: the buy could follow one window from now, not earlier.
    ready = chain.pending_timestamp + window
    match = re.search(r"Run again after (.+ UTC) \(in (.+)\)\.", outcome.message)
    assert match, outcome.message
    assert match.group(1) >= value.format_time(ready - 5)
    assert match.group(2) in ("30 minutes", "29 minutes 59 seconds", "29 minutes 58 seconds")

    # Once observed, a dry run does not claim it would observe again.
    assert value.run_keeper(suite, keeper, 1_000 * USDC, 100).action == "observed"
    newer = int(burner.observations()[2])
    waiting = value.run_keeper(suite, keeper, 1_000 * USDC, 100, dry_run=True)
    assert waiting.action == "waiting" and waiting.receipts == ()
    assert "no observation is due yet" in waiting.message
    assert f"Run again after {value.format_time(newer + window)}" in waiting.message


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("--slippage-bps", "501"),
            "error: slippage 501 bps is above the contract's bound of 500 bps: the buyback "
            "would be refused; lower --slippage-bps",
        ),
        (("--slippage-bps", "0"), "error: bad slippage: 0 bps; give 1 to 10000"),
        (("--threshold", "ten"), "error: bad threshold: 'ten' is not a number"),
        (("--threshold", "0.0000001"), "error: bad threshold:"),
        (("--account", "TEST::6"), "is not a keeper of the buyback-burner"),
    ],
)
def test_keeper__mistakes_exit_1_and_send_nothing(
    keep, manifests, burner, usdc, keeper, attacker, revenue, fresh_twap, args, message
):
    revenue(5_000 * USDC)
    fresh_twap()
    nonces = (keeper.nonce, attacker.nonce)

    result = keep(manifests, *args)

    one_error_line(result, message)
    assert (keeper.nonce, attacker.nonce) == nonces
    assert usdc.balanceOf(burner) == 5_000 * USDC


def test_keeper__not_a_keeper_is_a_user_error(suite, burner, attacker, revenue, fresh_twap):
    revenue(5_000 * USDC)
    fresh_twap()
    with pytest.raises(UserError) as info:
        value.run_keeper(suite, attacker, 1_000 * USDC, 100)
    assert str(info.value) == (
        f"{attacker.address} is not a keeper of the buyback-burner {burner.address}; the "
        "owner grants the role with setKeeper"
    )
    assert attacker.nonce == 0


def test_keeper__big_revenue_is_bought_partially_within_the_slippage(
    keep, manifests, suite, burner, router, usdc, vvv, revenue, fresh_twap
):
    total = 50_000 * USDC  # the per-call cap; about 2.8% of price impact and fee in this pool
    assert burner.maxAmountIn() == total
    revenue(total)
    fresh_twap()
    path = usdc_vvv_path(suite)
    plan = value.plan_buyback(suite, total, 100)

    # The largest amount (to the bisection's 0.1%) that still pays the TWAP amount less 1%.
    assert 0 < plan.amount_in < total
    assert plan.expected_out >= plan.min_out == -(-plan.twap_out * 9_900 // 10_000)
    over = plan.amount_in + total // 1_000
    assert router.getAmountsOut(over, path)[1] * 10_000 < burner.quote(over)[0] * 9_900
    supply = vvv.totalSupply()

    result = keep(manifests, "--slippage-bps", "100")

    assert result.exit_code == 0, result.stderr
    left = total - plan.amount_in
    burned = supply - vvv.totalSupply()
    assert burner.totalSpent() == plan.amount_in
    assert usdc.balanceOf(burner) == left
    assert burned == plan.expected_out
    assert result.stdout.strip() == (
        f"Bought back {value.usd(plan.amount_in)} of VVV and burned {value.vvv(burned)} "
        f"(total burned by the buyback-burner: {value.vvv(burned)}); "
        f"{value.usd(left)} of revenue left for the next run."
    )


def test_keeper__a_moved_pool_is_skipped(
    keep, manifests, suite, burner, router, usdc, keeper, alice, fund_usdc, revenue, fresh_twap
):
    revenue(5_000 * USDC)
    fresh_twap()
    # alice buys a lot of VVV in a later block: spot moves ~9% from the TWAP (bound: 3%).
    fund_usdc(alice, 100_000 * USDC, spender=router)
    router.swapExactTokensForTokens(
        100_000 * USDC, 1, usdc_vvv_path(suite), alice, chain.pending_timestamp + 600, sender=alice
    )
    assert value.twap_problem(suite) is None
    nonce = keeper.nonce

    outcome = value.run_keeper(suite, keeper, 1_000 * USDC, 100)
    assert outcome.action == "skipped" and outcome.receipts == ()

    result = keep(manifests)

    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(
        r"Skipped: the pool's spot price is 9\.\d\d% from the TWAP, past the 3\.00% bound "
        r"\(a moved or manipulated pool\)\. Nothing sent; the next run tries again\.",
        result.stdout.strip(),
    ), result.stdout
    assert keeper.nonce == nonce
    assert usdc.balanceOf(burner) == 5_000 * USDC
    assert burner.totalSpent() == 0


def test_keeper__a_pool_within_the_bound_but_past_the_slippage_is_skipped(
    suite, burner, router, usdc, keeper, alice, fund_usdc, revenue, fresh_twap
):
    revenue(5_000 * USDC)
    fresh_twap()
    # ~2% dearer VVV: inside the 3% deviation bound, but no buy pays the TWAP amount less 1%.
    fund_usdc(alice, 20_000 * USDC, spender=router)
    router.swapExactTokensForTokens(
        20_000 * USDC, 1, usdc_vvv_path(suite), alice, chain.pending_timestamp + 600, sender=alice
    )
    nonce = keeper.nonce

    outcome = value.run_keeper(suite, keeper, 1_000 * USDC, 100)

    assert outcome.action == "skipped" and outcome.receipts == ()
    assert outcome.message == (
        "Skipped: the pool cannot take even a small buy within 1.00% of the TWAP. Nothing "
        "sent; the next run tries again."
    )
    assert keeper.nonce == nonce and usdc.balanceOf(burner) == 5_000 * USDC


def test_keeper__runs_in_a_row_never_spend_more_than_the_revenue(
    suite, burner, usdc, vvv, keeper, revenue, fresh_twap
):
    total = 80_000 * USDC
    revenue(total)
    fresh_twap()
    supply = vvv.totalSupply()

    first = value.run_keeper(suite, keeper, 1_000 * USDC, 500)
    assert first.action == "bought"
    assert burner.totalSpent() == burner.maxAmountIn() == 50_000 * USDC
    assert "$30,000.00 of revenue left for the next run" in first.message

    # At once: the buy moved the pool ~5% from the TWAP, so the guard says no.
    second = value.run_keeper(suite, keeper, 1_000 * USDC, 500)
    assert second.action == "skipped" and second.receipts == ()
    assert burner.totalSpent() == 50_000 * USDC

    # A window later the TWAP has caught up with the pool: the rest, and not a cent more.
    mine_at_least(int(burner.observations()[2]) + int(burner.minTwapWindow()))
    third = value.run_keeper(suite, keeper, 1_000 * USDC, 500)
    assert third.action == "bought"
    assert "left for the next run" not in third.message
    fourth = value.run_keeper(suite, keeper, 1_000 * USDC, 500)
    assert fourth.action == "nothing-to-do"

    assert burner.totalSpent() == total
    assert usdc.balanceOf(burner) == 0
    assert vvv.totalSupply() == supply - burner.totalBurned()


def test_keeper__another_run_holds_the_lock(
    keep, manifests, burner, usdc, keeper, revenue, fresh_twap
):
    revenue(5_000 * USDC)
    fresh_twap()
    lock_path = manifests / f".keeper-{chain.chain_id}.lock"
    nonce = keeper.nonce

    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = keep(manifests)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"Another keeper run holds {lock_path}; exiting."
    assert keeper.nonce == nonce
    assert usdc.balanceOf(burner) == 5_000 * USDC

    # The lock released, the next run goes ahead (and the command leaves no lock behind).
    again = keep(manifests)
    assert again.exit_code == 0, again.stderr
    assert "Bought back $5,000.00 of VVV" in again.stdout
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)


################################################################
#                         SUBSCRIPTIONS                        #
################################################################


@pytest.fixture
def sub(invoke):
    return lambda manifests, *args: invoke(subscribe_cmd.cli, manifests, *args)


@pytest.mark.parametrize("text, index", [("pro", 0), ("Pro+", 1), (" MAX ", 2), ("0", 0), ("2", 2)])
def test_parse_tier(suite, text, index):
    assert value.parse_tier(suite, text) == index


@pytest.mark.parametrize(
    "text, message",
    [
        ("gold", "unknown tier 'gold': this deployment offers pro (0), pro+ (1), max (2)"),
        ("3", "tier '3' is not offered by this deployment"),
        ("4", "tier '4' is not offered by this deployment"),
        ("-1", "unknown tier '-1'"),
    ],
)
def test_parse_tier__mistakes(suite, text, message):
    with pytest.raises(UserError, match=re.escape(message)):
        value.parse_tier(suite, text)


def test_subscribe__pay_pro_for_3_periods(
    sub, manifests, subscriptions, usdc, burner, treasury, alice, fund_usdc
):
    fund_usdc(alice, 100 * USDC)  # no allowance: the command approves
    before = (usdc.balanceOf(burner), usdc.balanceOf(treasury))

    result = sub(manifests, "pay", "pro", "3", "--account", "TEST::3")

    assert result.exit_code == 0, result.stderr
    assert usdc.balanceOf(alice) == 46 * USDC
    assert usdc.balanceOf(burner) == before[0] + 6 * USDC
    assert usdc.balanceOf(treasury) == before[1] + 48 * USDC
    assert usdc.allowance(alice, subscriptions) == 0  # approved exactly the cost
    expiry = subscriptions.expiryOf(alice, 0)
    assert expiry == chain.blocks.head.timestamp + 3 * PERIOD
    assert subscriptions.isPro(alice)
    assert result.stdout.strip() == (
        "Subscribed: paid $54.00, of which $6.00 goes to the buyback-burner; runs until "
        f"{value.format_time(expiry)}."
    )


def test_subscribe__renewal_extends_and_skips_the_approval(
    suite, subscriptions, usdc, alice, fund_usdc
):
    fund_usdc(alice, 1_000 * USDC, spender=subscriptions)
    value.subscribe(suite, alice, 0, 1, None)
    expiry = subscriptions.expiryOf(alice, 0)

    outcome = value.subscribe(suite, alice, 0, 2, None)

    assert len(outcome.receipts) == 1  # the allowance covered it
    assert subscriptions.expiryOf(alice, 0) == expiry + 2 * PERIOD
    assert usdc.balanceOf(alice) == 1_000 * USDC - 3 * 18 * USDC


def test_subscribe__gift_max_for_bob(
    sub, manifests, subscriptions, usdc, burner, treasury, alice, bob, fund_usdc
):
    fund_usdc(alice, 200 * USDC)
    before = (usdc.balanceOf(burner), usdc.balanceOf(treasury))

    result = sub(manifests, "pay", "max", "1", "--for", bob.address.lower(), "--account", "TEST::3")

    assert result.exit_code == 0, result.stderr
    assert subscriptions.expiryOf(bob, 2) == chain.blocks.head.timestamp + PERIOD
    assert subscriptions.expiryOf(alice, 2) == 0
    assert subscriptions.isPro(bob) and not subscriptions.isPro(alice)
    assert usdc.balanceOf(alice) == 0
    assert usdc.balanceOf(burner) == before[0] + 10 * USDC
    assert usdc.balanceOf(treasury) == before[1] + 190 * USDC
    assert f"Subscribed for {bob.address}: paid $200.00, of which $10.00 goes to" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("pay", "gold"), "error: unknown tier 'gold': this deployment offers pro (0), pro+ (1)"),
        (("pay", "3"), "error: tier '3' is not offered by this deployment"),
        (("pay", "pro", "0"), "error: bad periods: 0; pay for 1 to 36 periods of 30 days"),
        (("pay", "pro", "37"), "error: bad periods: 37; pay for 1 to 36 periods of 30 days"),
        (("pay", "pro", "1", "--for", "bob"), "error: 'bob' is not an address"),
        (("status", "0xnope"), "error: '0xnope' is not an address"),
    ],
)
def test_subscribe__mistakes_exit_1(sub, manifests, alice, fund_usdc, args, message):
    fund_usdc(alice, 1_000 * USDC)

    result = sub(manifests, *args, "--account", "TEST::3")

    one_error_line(result, message)
    assert alice.nonce == 0


def test_subscribe__not_enough_usdc_says_the_amounts(sub, manifests, usdc, alice, fund_usdc):
    fund_usdc(alice, 10 * USDC)

    result = sub(manifests, "pay", "pro", "3", "--account", "TEST::3")

    one_error_line(
        result, f"error: 3 period(s) cost $54.00 and {alice.address} holds $10.00 in USDC"
    )
    assert usdc.balanceOf(alice) == 10 * USDC and alice.nonce == 0


def test_subscribe__tiers(sub, manifests, owner, subscriptions):
    result = sub(manifests, "tiers")
    assert result.exit_code == 0, result.stderr
    lines = [line.split() for line in result.stdout.strip().splitlines()]
    assert lines == [
        ["tier", "name", "price", "/", "30", "days", "burned", "/", "30", "days"],
        ["0", "pro", "$18.00", "$2.00"],
        ["1", "pro+", "$68.00", "$5.00"],
        ["2", "max", "$200.00", "$10.00"],
    ]

    # A fourth tier offered by governance shows, unnamed.
    subscriptions.setTier(3, 1_000 * USDC, 100 * USDC, sender=owner)
    result = sub(manifests, "tiers")
    assert result.stdout.strip().splitlines()[-1].split() == ["3", "-", "$1,000.00", "$100.00"]


def test_subscribe__status_by_subscription_by_stake_or_not(
    sub, manifests, suite, staking, fund, fund_usdc, alice, bob, carol
):
    fund_usdc(alice, 100 * USDC, spender=suite.subscriptions)
    value.subscribe(suite, alice, 1, 1, None)
    until = suite.subscriptions.expiryOf(alice, 1)
    fund(bob, 100 * VVV)
    staking.stake(bob, 100 * VVV, sender=bob)

    def rows(account) -> dict[str, str]:
        result = sub(manifests, "status", account.address)
        assert result.exit_code == 0, result.stderr
        return table_rows(result.stdout)

    assert rows(alice)["Pro"] == "yes, by subscription"
    assert rows(alice)["subscription"] == f"runs until {value.format_time(until)}"
    assert rows(bob)["Pro"] == "yes, by stake"
    assert rows(bob)["staked"] == "100 VVV (Pro from 100 VVV)"
    assert "subscription" not in rows(bob)
    assert rows(carol)["Pro"] == "no"

    # Both ways at once; then the subscription runs out.
    fund(alice, 100 * VVV)
    staking.stake(alice, 100 * VVV, sender=alice)
    assert rows(alice)["Pro"] == "yes, by stake and subscription"
    staking.initiateUnstake(100 * VVV, sender=alice)
    mine_at_least(until + 1)
    assert rows(alice)["Pro"] == "no"
    assert rows(alice)["subscription"] == f"ended {value.format_time(until)}"

    # Without an address: the signing account (test account 0 on a dev chain).
    result = sub(manifests, "status")
    assert result.exit_code == 0, result.stderr
    assert suite.roles["owner"] in result.stdout


################################################################
#                            AIRDROP                           #
################################################################


drop = command_fixture(airdrop_cmd.cli)


def build(*args: str):
    """`airdrop build` takes no --deployments (it reads no chain)."""
    return CliRunner(mix_stderr=False).invoke(airdrop_cmd.cli, ["build", *args])


FILLER = [f"0x{i:040x}" for i in range(0xA1, 0xA6)]  # lowercase: no checksum to get wrong


@pytest.fixture
def csv_file(tmp_path, alice, bob, carol) -> Path:
    path = tmp_path / "allocations.csv"
    rows = [
        "address,amount",
        "# the team's test claimants",
        f"{alice.address},1000",
        "",
        f"{bob.address},250",
        f"{carol.address},0.5",
        *(f"{address},{i + 1}" for i, address in enumerate(FILLER)),
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def tree_file(csv_file, tmp_path) -> Path:
    out = tmp_path / "airdrop.json"
    result = build(str(csv_file), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture
def deployed(drop, manifests, tree_file):
    """The tree deployed through the command (by test account 0) and recorded."""
    result = drop(manifests, "deploy", str(tree_file))
    assert result.exit_code == 0, result.stderr
    return load_suite(manifests).airdrop


def test_airdrop__build_writes_the_tree(csv_file, tmp_path, alice, bob, carol):
    out = tmp_path / "out" / "tree.json"
    out.parent.mkdir()

    result = build(str(csv_file), "--out", str(out))

    assert result.exit_code == 0, result.stderr
    expected = AirdropTree(
        [
            (alice.address, 1_000 * VVV),
            (bob.address, 250 * VVV),
            (carol.address, VVV // 2),
            *((address, (i + 1) * VVV) for i, address in enumerate(FILLER)),
        ]
    )
    data = json.loads(out.read_text())
    assert data["root"] == expected.root == AirdropTree(read_csv(csv_file)).root
    assert data["total"] == str(expected.total) == str(1_265_500_000_000_000_000_000)
    assert data["claims"][alice.address] == {
        "amount": str(1_000 * VVV),
        "proof": expected.proof(alice.address),
    }
    assert value.load_tree(out).root == expected.root
    assert result.stdout.strip() == (
        f"8 claims, 1,265.5 VVV in total; root {expected.root}; written to {out}"
    )
    assert not out.with_suffix(".json.tmp").exists()


@pytest.mark.parametrize(
    "rows, message",
    [
        (
            ["{alice},1", "{bob},2", "{alice},3"],
            "line 4: duplicate address {alice} (already on line 2)",
        ),
        (["{alice},1", "0x1234,2"], "line 3: '0x1234' is not an address"),
        (["{alice},1", "{bob},0"], "line 3: amount '0' is zero: amounts must be > 0"),
        (["{alice},1", "{bad_checksum},5"], "line 3: '{bad_checksum}' has an invalid EIP-55"),
        (["{alice},1", "{bob},-2"], "line 3: amount"),
        (["{alice},1,2"], "line 2: expected 2 columns (address,amount), got 3"),
        ([], "line 1: no entries"),
    ],
)
def test_airdrop__build_refuses_a_bad_csv_with_the_line(tmp_path, alice, bob, rows, message):
    # A wrong EIP-55 checksum: alice's address with the case of one letter flipped.
    letter = next(i for i, c in enumerate(alice.address) if i > 1 and c.isalpha())
    bad = alice.address[:letter] + alice.address[letter].swapcase() + alice.address[letter + 1 :]
    names = {"alice": alice.address, "bob": bob.address, "bad_checksum": bad}
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(["address,amount", *(r.format(**names) for r in rows)]) + "\n")
    out = tmp_path / "never.json"

    result = build(str(path), "--out", str(out))

    one_error_line(result, f"error: {path}: {message.format(**names)}")
    assert not out.exists()


def test_airdrop__build_a_missing_csv(tmp_path):
    result = build(str(tmp_path / "nope.csv"), "--out", str(tmp_path / "x.json"))
    one_error_line(result, "nope.csv does not exist")


def test_airdrop__deploy_records_it_in_the_manifest(drop, manifests, suite, vvv, owner, tree_file):
    tree = value.load_tree(tree_file)
    assert load_suite(manifests).airdrop is None
    balance = vvv.balanceOf(owner)

    result = drop(manifests, "deploy", str(tree_file))

    assert result.exit_code == 0, result.stderr
    data = json.loads((manifests / f"{chain.chain_id}.json").read_text())
    address = data["contracts"]["AirdropDistributor"]["address"]
    assert {"address", "abi"} <= set(data["contracts"]["AirdropDistributor"])
    airdrop = load_suite(manifests).airdrop
    assert airdrop is not None and airdrop.address == address
    assert "0x" + bytes(airdrop.MERKLE_ROOT()).hex() == tree.root
    assert vvv.balanceOf(airdrop) == tree.total
    assert vvv.balanceOf(owner) == balance - tree.total
    # Beside it, what an explorer needs to verify it (venice_ops/deploy/verify.py).
    record = json.loads(
        (verification_dir(chain.chain_id, manifests) / "AirdropDistributor.json").read_text()
    )
    assert record["address"] == address
    assert record["contract_name"] == "contracts/AirdropDistributor.vy:AirdropDistributor"
    assert record["constructor_args"][64 * 2 : 64 * 3] == tree.root.removeprefix("0x")
    deadline = int(airdrop.DEADLINE())
    assert abs(deadline - chain.blocks.head.timestamp - 3_888_000) <= 5
    assert result.stdout.strip() == (
        f"AirdropDistributor at {address}, holding 1,265.5 VVV; claims close "
        f"{value.format_time(deadline)}."
    )
    # The other contracts in the manifest are untouched.
    assert load_suite(manifests).vvv.address == suite.vvv.address


def test_airdrop__deploy_with_a_window_and_its_mistakes(drop, manifests, tree_file, tmp_path):
    short = drop(manifests, "deploy", str(tree_file), "--window", "3600")
    assert short.exit_code == 0, short.stderr
    airdrop = load_suite(manifests).airdrop
    assert abs(int(airdrop.DEADLINE()) - chain.blocks.head.timestamp - 3_600) <= 5

    one_error_line(
        drop(manifests, "deploy", str(tree_file), "--window", "10"),
        "error: bad --window 10: give 3600 to 31536000 seconds",
    )
    one_error_line(
        drop(manifests, "deploy", str(tree_file), "--account", "TEST::6"),
        "error: the airdrop needs 1,265.5 VVV and the deployer holds 0",
    )
    one_error_line(
        drop(manifests, "deploy", str(tmp_path / "missing.json")),
        "error: cannot read the airdrop file",
    )
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    one_error_line(drop(manifests, "deploy", str(garbage)), "is not JSON")
    tampered = tmp_path / "tampered.json"
    data = json.loads(tree_file.read_text())
    data["root"] = "0x" + "11" * 32
    tampered.write_text(json.dumps(data))
    one_error_line(drop(manifests, "deploy", str(tampered)), "does not match the claims")
    # Only the first deploy changed the manifest.
    assert load_suite(manifests).airdrop.address == airdrop.address


def test_airdrop__claim_pays_the_signer_once(drop, manifests, deployed, vvv, alice, tree_file):
    result = drop(manifests, "claim", str(tree_file), "--account", "TEST::3")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "Claimed 1,000 VVV, to the wallet."
    assert vvv.balanceOf(alice) == 1_000 * VVV
    nonce = alice.nonce

    again = drop(manifests, "claim", str(tree_file), "--account", "TEST::3")

    one_error_line(again, f"error: {alice.address} has already claimed its 1,000 VVV")
    assert alice.nonce == nonce and vvv.balanceOf(alice) == 1_000 * VVV


def test_airdrop__claim_into_svvv(drop, manifests, deployed, vvv, staking, bob, tree_file):
    balance = vvv.balanceOf(bob)

    result = drop(manifests, "claim", str(tree_file), "--stake", "--account", "TEST::4")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "Claimed 250 VVV, staked as sVVV."
    assert staking.balanceOf(bob) == 250 * VVV
    assert vvv.balanceOf(bob) == balance
    assert vvv.balanceOf(deployed) == value.load_tree(tree_file).total - 250 * VVV


def test_airdrop__claim_through_the_library(deployed, manifests, vvv, carol, tree_file):
    outcome = value.claim_airdrop(load_suite(manifests), carol, value.load_tree(tree_file), False)
    assert outcome.message == "Claimed 0.5 VVV, to the wallet."
    assert vvv.balanceOf(carol) == VVV // 2


def test_airdrop__claim_mistakes(drop, manifests, tree_file, tmp_path, attacker, alice, bob):
    one_error_line(
        drop(manifests, "claim", str(tree_file), "--account", "TEST::3"),
        "error: this deployment has no airdrop: deploy one with `ape run airdrop deploy FILE`",
    )
    assert drop(manifests, "deploy", str(tree_file)).exit_code == 0

    one_error_line(
        drop(manifests, "claim", str(tree_file), "--account", "TEST::6"),
        f"error: {attacker.address} has no allocation in this airdrop",
    )
    other = tmp_path / "other.csv"
    other.write_text(f"{alice.address},1\n{bob.address},1\n")
    other_tree = tmp_path / "other.json"
    assert build(str(other), "--out", str(other_tree)).exit_code == 0
    one_error_line(
        drop(manifests, "claim", str(other_tree), "--account", "TEST::3"),
        "is not the deployed airdrop's: wrong file?",
    )
    assert attacker.nonce == 0 and alice.nonce == 0


def test_airdrop__burn_before_the_deadline_says_how_long_is_left(drop, manifests, deployed, vvv):
    supply = vvv.totalSupply()
    deadline = int(deployed.DEADLINE())
    # 90 minutes on: about 44 days 22.5 hours left, rounded up to the hour.
    mine_at_least(deadline - 3_888_000 + 90 * 60)

    result = drop(manifests, "burn", "--account", "TEST::6")

    one_error_line(
        result,
        f"error: the claim window is open until {value.format_time(deadline)} (44 days 23 "
        "hours from now); burn after that",
    )
    assert vvv.totalSupply() == supply


def test_airdrop__after_the_deadline_claims_close_and_the_rest_burns(
    drop, manifests, deployed, vvv, tree_file, attacker
):
    assert drop(manifests, "claim", str(tree_file), "--account", "TEST::3").exit_code == 0
    deadline = int(deployed.DEADLINE())
    mine_at_least(deadline + 1)

    one_error_line(
        drop(manifests, "claim", str(tree_file), "--account", "TEST::4"),
        f"error: the claim window closed at {value.format_time(deadline)}",
    )
    left = value.load_tree(tree_file).total - 1_000 * VVV
    assert vvv.balanceOf(deployed) == left
    supply = vvv.totalSupply()

    result = drop(manifests, "burn", "--account", "TEST::6")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"Burned the unclaimed {value.vvv(left)}."
    assert vvv.totalSupply() == supply - left
    assert vvv.balanceOf(deployed) == 0
    assert attacker.nonce == 1

    nothing = drop(manifests, "burn")
    assert nothing.exit_code == 0, nothing.stderr
    assert nothing.stdout.strip() == "Nothing left to burn."


def test_airdrop__status(drop, manifests, deployed, tree_file, alice, attacker):
    def rows(*args: str) -> dict[str, str]:
        result = drop(manifests, "status", *args)
        assert result.exit_code == 0, result.stderr
        return table_rows(result.stdout)

    deadline = value.format_time(int(deployed.DEADLINE()))
    before = rows(alice.address, "--tree", str(tree_file))
    assert before == {
        "distributor": deployed.address,
        "unclaimed": "1,265.5 VVV",
        "window": f"open, ends {deadline}",
        "account": alice.address,
        "allocation": "1,000 VVV, not claimed",
    }

    assert drop(manifests, "claim", str(tree_file), "--account", "TEST::3").exit_code == 0
    after = rows("--tree", str(tree_file), "--account", "TEST::3")
    assert after["account"] == alice.address
    assert after["allocation"] == "1,000 VVV, claimed"
    assert after["unclaimed"] == "265.5 VVV"
    outsider = rows(attacker.address, "--tree", str(tree_file))
    assert (outsider["account"], outsider["allocation"]) == (attacker.address, "none")
    # Without --tree: what the address claimed, from the chain's Claimed events.
    assert rows(alice.address)["claimed"] == "1,000 VVV"
    assert rows(attacker.address) == {
        **{k: v for k, v in before.items() if k in ("distributor", "window")},
        "unclaimed": "265.5 VVV",
        "account": attacker.address,
        "claimed": "nothing yet (give --tree FILE to see the allocation)",
    }

    mine_at_least(int(deployed.DEADLINE()) + 1)
    assert rows()["window"] == f"closed, ends {deadline}"


def test_airdrop__status_without_an_airdrop(drop, manifests):
    one_error_line(drop(manifests, "status"), "error: this deployment has no airdrop")
