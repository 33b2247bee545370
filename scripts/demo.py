"""The main job: deploy the suite on a local Anvil and play a short scenario.

    ape run demo

ape-foundry starts Anvil and stops it at the end. An airdrop opens and some claim (one into
sVVV); stakers stake, time passes, they claim, compound, mint and stake DIEM, start an
unstake, wait out the cooldown and finalize; the oracle reports utilization and the emissions
split moves along its curve (and falls back when the report goes stale); subscriptions are
paid in USDC and the keeper routes their burn part (and platform revenue) through a Uniswap V2
buyback that burns VVV; the unclaimed airdrop is burned. A summary follows.
"""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from eth_utils import to_checksum_address
from rich.console import Console
from rich.table import Table

from scripts._lib.airdrop import AirdropTree
from scripts._lib.config import load_config
from scripts._lib.deploy import deploy_airdrop, deploy_suite, write_manifest
from scripts._lib.value import run_keeper
from venice_sdk.model.diem import daily_credit
from venice_sdk.units import format_units

DAY = 86_400
VVV = 10**18
YEAR = 31_536_000

console = Console(width=120)


def fmt(amount: int, places: int = 2) -> str:
    return format_units(amount, 18, places)


def pct(numerator: int, denominator: int) -> str:
    if denominator == 0:
        return "n/a"
    return f"{Decimal(numerator) * 100 / Decimal(denominator):.2f}%"


@click.command(cls=ConnectedProviderCommand)
@click.option(
    "--config", "config_path", default=None, help="Deploy config (default: config/default.yaml)."
)
def cli(config_path: str | None) -> None:
    """Deploy the suite on a local Anvil and play a short staking scenario."""
    config = load_config(config_path)
    logger.set_level("WARNING")  # the story below says what each transaction does
    deployer, treasury, oracle = accounts.test_accounts[0:3]
    alice, bob, carol, dave = accounts.test_accounts[3:7]
    names = {
        alice.address: "alice",
        bob.address: "bob",
        carol.address: "carol",
        dave.address: "dave",
    }

    console.rule("[bold]Venice token suite: local demo")
    suite = deploy_suite(deployer, config, {"treasury": "test:1", "oracle": "test:2"})
    vvv, controller, staking = suite.vvv, suite.controller, suite.staking
    # The airdrop: the four stakers and 96 others, with a 10-day window for the demo.
    rng = random.Random(2024)
    drops = {alice: 5_000, bob: 2_500, carol: 1_000, dave: 100}
    tree = AirdropTree(
        [(a.address, amount * VVV) for a, amount in drops.items()]
        + [(to_checksum_address(rng.randbytes(20)), rng.randint(1, 500) * VVV) for _ in range(96)]
    )
    suite.airdrop = deploy_airdrop(
        deployer,
        vvv,
        staking,
        tree.root,
        tree.total,
        replace(config, airdrop_window=10 * DAY),
    )
    manifest = write_manifest(suite, config, force=True)
    deployed = Table(title=f"Deployed on chain {chain.chain_id} (manifest {manifest.name})")
    deployed.add_column("contract")
    deployed.add_column("address")
    for name, contract in suite.contracts().items():
        deployed.add_row(name, str(contract.address))
    console.print(deployed)
    genesis_supply = vvv.totalSupply()
    usdc, subs, burner = suite.usdc, suite.subscriptions, suite.burner

    def log(day: float, text: str) -> None:
        console.print(f"[dim]day {day:>5.1f}[/dim]  {text}")

    start = chain.blocks.head.timestamp

    def day_now() -> float:
        return (chain.blocks.head.timestamp - start) / DAY

    def warp(days: float) -> None:
        chain.mine(timestamp=chain.pending_timestamp + int(days * DAY))

    def curve_text() -> str:
        supply = suite.diem.totalSupply()
        rate = suite.curve.rateAt(supply)
        return f"supply {fmt(supply, 0)} DIEM, next DIEM costs {fmt(rate)} sVVV"

    def split_text() -> str:
        stakers = controller.currentStakerBps()
        stale = " (stale report: fallback)" if controller.isReportStale() else ""
        return f"stakers {stakers / 100:.0f}% / treasury {(10_000 - stakers) / 100:.0f}%{stale}"

    airdrop = suite.airdrop
    airdrop.claim(5_000 * VVV, tree.proof(alice.address), False, sender=alice)
    airdrop.claim(100 * VVV, tree.proof(dave.address), True, sender=dave)
    log(
        day_now(),
        f"airdrop of {fmt(tree.total, 0)} VVV to {len(tree)} accounts opens for 10 days: "
        "alice claims 5,000 VVV, dave claims 100 straight into sVVV",
    )

    # Stakers get VVV from the deployer's genesis share and stake.
    plan = {alice: 20_000_000, bob: 8_000_000, carol: 2_500_000, dave: 60}
    for account, amount in plan.items():
        vvv.transfer(account, amount * VVV, sender=deployer)
        vvv.approve(staking, amount * VVV, sender=account)
        staking.stake(account, amount * VVV, sender=account)
        log(day_now(), f"{names[account.address]} stakes {amount:,} VVV")

    log(day_now(), f"no utilization report yet: {split_text()}")
    controller.reportUtilization(2_000, sender=oracle)
    log(day_now(), f"oracle reports 20% utilization: {split_text()}")
    warp(7)

    reward = staking.pendingRewards(alice)
    staking.claim(sender=alice)
    log(day_now(), f"alice claims {fmt(reward)} VVV")
    reward = staking.pendingRewards(bob)
    staking.claimAndStake(sender=bob)
    log(day_now(), f"bob compounds {fmt(reward)} VVV into his stake")

    # DIEM: alice locks stake for perpetual daily compute and stakes it for credit.
    diem = suite.diem
    lock = 1_000_000 * VVV
    quote = staking.getDiemAmountOut(lock)
    staking.mintDiem(lock, quote * 995 // 1_000, sender=alice)
    log(day_now(), f"alice locks {fmt(lock, 0)} sVVV and mints {fmt(quote)} DIEM ({curve_text()})")
    cost = staking.getSVVVAmountIn(500 * VVV)
    staking.mintExactDiem(500 * VVV, cost * 1_005 // 1_000, sender=carol)
    log(day_now(), f"carol mints exactly 500 DIEM for {fmt(cost)} sVVV ({curve_text()})")
    diem.stake(10_000 * VVV, sender=alice)
    diem.transfer(dave, 200 * VVV, sender=carol)
    diem.stake(200 * VVV, sender=dave)
    log(day_now(), "alice stakes 10,000 DIEM ($10,000 of API credit a day); carol sells 200 DIEM")
    log(day_now(), "to dave, who stakes them ($200 a day) but has no lock to release")

    # Subscriptions in USDC: the burn part of each goes to the buyback-burner.
    for payer, tier, periods, recipient in (
        (bob, 0, 3, bob),
        (carol, 2, 1, dave),
        (alice, 1, 12, alice),
    ):
        price, _ = subs.tiers(tier)
        usdc.mint(payer, price * periods, sender=deployer)
        usdc.approve(subs, price * periods, sender=payer)
        subs.subscribe(tier, periods, recipient, sender=payer)
    log(
        day_now(),
        "bob buys 3 months of Pro ($54, $6 to burn), carol gifts dave a month of Max ($200, "
        "$10 to burn), alice a year of Pro+ ($816, $60 to burn)",
    )
    platform = 20_000 * 10**6
    usdc.mint(treasury, platform, sender=deployer)
    usdc.transfer(burner, platform, sender=treasury)
    log(day_now(), "the treasury sends $20,000 of the month's revenue to the buyback-burner")

    controller.reportUtilization(5_000, sender=oracle)
    log(day_now(), f"oracle reports 50% utilization: {split_text()}")
    warp(1)

    staking.initiateUnstake(1_000_000 * VVV, sender=carol)
    amount, unlock = staking.cooldowns(carol)
    log(day_now(), f"carol starts unstaking {fmt(amount)} VVV (7-day cooldown)")
    warp(3)
    left = unlock - chain.blocks.head.timestamp
    log(day_now(), f"carol cannot finalize yet: her cooldown has {left // 3600} hours left")

    controller.reportUtilization(9_500, sender=oracle)
    log(day_now(), f"oracle reports 95% utilization: {split_text()}")
    warp(4.5)
    log(day_now(), f"no report for 4.5 days: {split_text()}")
    before = vvv.balanceOf(carol)
    staking.finalizeUnstake(sender=carol)
    log(day_now(), f"carol finalizes and receives {fmt(vvv.balanceOf(carol) - before)} VVV")
    controller.reportUtilization(3_000, sender=oracle)
    log(day_now(), f"oracle reports 30% utilization: {split_text()}")
    warp(2)
    for account in (alice, bob, carol, dave):
        if staking.pendingRewards(account) > 0:
            staking.claim(sender=account)
    burn = diem.balanceOf(alice) // 2  # from her unstaked DIEM
    released_svvv = staking.burnDiem(burn, sender=alice).return_value
    log(
        day_now(),
        f"alice burns {fmt(burn)} DIEM and gets {fmt(released_svvv)} sVVV unlocked",
    )
    diem.initiateUnstake(200 * VVV, sender=dave)
    log(day_now(), "dave starts unstaking his 200 DIEM (1-day cooldown); his credit stops now")
    released = staking.treasuryReleasable()
    staking.releaseTreasury(sender=dave)
    log(day_now(), f"anyone releases the treasury's share: {fmt(released)} VVV minted to it")

    # The keeper, as cron runs it: first the TWAP is stale (no observation for days), so it
    # records one and waits; half an hour later it buys back and burns.
    supply_before = vvv.totalSupply()
    revenue = usdc.balanceOf(burner)
    for _ in range(2):
        outcome = run_keeper(suite, deployer, threshold=1_000 * 10**6, slippage_bps=300)
        log(day_now(), f"keeper: {outcome.message}")
        if outcome.action == "bought":
            break
        chain.mine(timestamp=chain.pending_timestamp + burner.minTwapWindow() + 1)
    bought_burned = supply_before - vvv.totalSupply()
    log(
        day_now(),
        f"subscription and platform revenue of ${(revenue - usdc.balanceOf(burner)) // 10**6:,} "
        f"bought and burned {fmt(bought_burned)} VVV",
    )
    chain.mine(timestamp=max(chain.pending_timestamp, airdrop.DEADLINE() + 1))
    unclaimed = airdrop.burnUnclaimed(sender=dave).return_value
    log(day_now(), f"the airdrop window has closed: dave burns the unclaimed {fmt(unclaimed)} VVV")

    # ---- summary ---------------------------------------------------------------------
    table = Table(title=f"Stakers after {day_now():.1f} days")
    columns = (
        "account",
        "staked",
        "locked",
        "pending",
        "VVV balance",
        "DIEM staked",
        "credit/day",
        "Pro",
    )
    for column in columns:
        table.add_column(column, justify="right" if column != "account" else "left")
    for account in (alice, bob, carol, dave):
        staked_diem = diem.stakedInfos(account)[0]
        credit = daily_credit(staked_diem) // VVV
        table.add_row(
            names[account.address],
            fmt(staking.balanceOf(account)),
            fmt(staking.lockedStakes(account)[0]),
            fmt(staking.pendingRewards(account)),
            fmt(vvv.balanceOf(account)),
            fmt(staked_diem),
            f"${credit:,}",
            "yes" if staking.isPro(account) else "no",
        )
    console.print(table)

    total_staked = staking.totalStaked()
    rate = staking.rewardRate()
    supply = vvv.totalSupply()
    emitted = controller.emitted()
    treasury_emitted = controller.treasuryEmitted()
    econ = Table(title="Token economy")
    econ.add_column("metric")
    econ.add_column("value", justify="right")
    econ.add_row("genesis supply", fmt(genesis_supply, 0))
    econ.add_row("VVV total supply now", fmt(supply))
    econ.add_row("minted since genesis", fmt(supply - genesis_supply))
    econ.add_row("emitted by the schedule", fmt(emitted))
    econ.add_row("  to stakers", fmt(controller.stakerEmitted()))
    econ.add_row(
        "  to the treasury (its take)",
        f"{fmt(treasury_emitted)} ({pct(treasury_emitted, emitted)})",
    )
    econ.add_row("treasury VVV balance", fmt(vvv.balanceOf(treasury)))
    econ.add_row("total staked", fmt(total_staked))
    econ.add_row("staking ratio", pct(total_staked, supply))
    econ.add_row("annual emission rate", fmt(controller.currentAnnualRate(), 0))
    econ.add_row("current split", split_text())
    econ.add_row("stakers' APR now", pct(rate * YEAR, total_staked))
    econ.add_row("locked sVVV (earning 80%)", fmt(staking.totalLocked()))
    econ.add_row("treasury's 20% of locked yield", fmt(staking.lockedCutAccrued()))
    econ.add_row("burned by buybacks", fmt(burner.totalBurned()))
    econ.add_row("burned: unclaimed airdrop", fmt(unclaimed))
    econ.add_row("subscriptions paid (USDC)", f"${subs.totalPaid() / 10**6:,.2f}")
    econ.add_row("  of it to burn", f"${subs.totalBurnPart() / 10**6:,.2f}")
    econ.add_row("buyback USDC spent", f"${burner.totalSpent() / 10**6:,.2f}")
    econ.add_row("DIEM supply", fmt(diem.totalSupply()))
    econ.add_row("DIEM staked (credit $/day)", fmt(diem.totalStaked()))
    econ.add_row("mint curve position", curve_text())
    console.print(econ)
    console.print(
        "Emissions stream per second and are minted only when claimed or released; "
        "the gap between 'emitted' and 'minted' is what stakers and the treasury have yet "
        "to collect, plus seconds with nothing staked."
    )
