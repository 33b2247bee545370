"""Value capture from the command line: subscribe, the keeper's buyback, the airdrop.

Like `staker.py`, each action checks the user's input before any transaction (raising
`UserError` with what to do) and returns an `Outcome`. The keeper's `run_keeper` is built to
run from cron: it decides from chain state alone, so running it again does no harm, and it
reports "nothing to do" or "skipped by the price guard" as a success, not a failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ape import chain
from ape.api import AccountAPI

from venice_ops.commands.common import (
    Outcome,
    UserError,
    format_duration,
    format_time,
    human,
    parse_address,
    send,
)
from venice_ops.deploy.airdrop_tree import OZ_FORMAT, AirdropFormatError, AirdropTree
from venice_ops.deploy.config import USDC_DECIMALS
from venice_ops.deploy.suite import Suite
from venice_sdk.units import format_units

BPS = 10_000
Q112 = 2**112
PERIOD = 30 * 86_400
MAX_PERIODS = 36
# The keeper's buyback deadline: long enough to be mined, short enough to be stale soon.
KEEPER_DEADLINE = 600
# The burner's price views depend on block.timestamp. The keeper decides (`twap_problem`) for
# the pending block, where its transaction lands, so it reads the prices there too: at the
# latest block (minutes old on an idle chain) the TWAP window may still be too short and the
# view reverts, though the buyback itself would pass.
PENDING = "pending"


def usd(amount: int) -> str:
    return "$" + format_units(amount, USDC_DECIMALS, 2)


def vvv(amount: int) -> str:
    """VVV as every command shows it: thousands separators, at most four decimals (rounded
    down), no trailing zeros (`human(amount, 4)`)."""
    return human(amount, 4) + " VVV"


################################################################
#                        SUBSCRIPTIONS                         #
################################################################


# The tiers' places in the contract, as the default deploy config orders them.
TIER_NAMES = {"pro": 0, "pro+": 1, "max": 2}


MAX_TIERS = 4  # the contract's tier slots


def tier_name(index: int) -> str:
    """A tier's name: its default-config name, else its number."""
    return next((name for name, i in TIER_NAMES.items() if i == index), str(index))


def offered_tiers(suite: Suite) -> list[int]:
    """The tier slots this deployment prices (a price of 0 is not offered)."""
    return [i for i in range(MAX_TIERS) if int(suite.subscriptions.tiers(i)[0]) != 0]


def parse_tier(suite: Suite, text: str) -> int:
    """A tier by name (pro, pro+, max) or number, if this deployment offers it."""
    key = text.strip().lower()
    index = int(key) if key.isdigit() else TIER_NAMES.get(key)
    offered = offered_tiers(suite)
    if index not in offered:
        choices = ", ".join(f"{tier_name(i)} ({i})" for i in offered) or "no tier"
        if index is None:
            raise UserError(f"unknown tier '{text}': this deployment offers {choices}")
        raise UserError(f"tier '{text}' is not offered by this deployment, which offers {choices}")
    return index


def subscribe(
    suite: Suite, payer: AccountAPI, tier: int, periods: int, recipient: str | None
) -> Outcome:
    """Pay for `periods` x 30 days of `tier` for `recipient` (default: the payer)."""
    if not 1 <= periods <= MAX_PERIODS:
        raise UserError(f"bad periods: {periods}; pay for 1 to {MAX_PERIODS} periods of 30 days")
    who = parse_address(recipient) if recipient else str(payer.address)
    subs, usdc = suite.subscriptions, suite.usdc
    price, burn = subs.tiers(tier)
    cost = price * periods
    balance = usdc.balanceOf(payer)
    if balance < cost:
        raise UserError(
            f"{periods} period(s) cost {usd(cost)} and {payer.address} holds {usd(balance)} in USDC"
        )
    receipts = []
    if usdc.allowance(payer, subs) < cost:
        receipts.append(send(usdc.approve, subs.address, cost, sender=payer))
    receipt = send(subs.subscribe, tier, periods, who, sender=payer)
    receipts.append(receipt)
    expiry = subs.expiryOf(who, tier)
    gift = "" if who == payer.address else f" for {who}"
    return Outcome(
        f"Subscribed{gift}: paid {usd(cost)}, of which {usd(burn * periods)} goes to the "
        f"buyback-burner; runs until {format_time(expiry)}.",
        receipts,
    )


@dataclass(frozen=True)
class ProStatus:
    account: str
    by_stake: bool
    by_subscription: bool
    until: int
    staked: int
    threshold: int

    @property
    def is_pro(self) -> bool:
        return self.by_stake or self.by_subscription


def pro_status(suite: Suite, account: str) -> ProStatus:
    by_stake, by_subscription, until = suite.subscriptions.proStatus(account)
    return ProStatus(
        account=account,
        by_stake=bool(by_stake),
        by_subscription=bool(by_subscription),
        until=int(until),
        staked=int(suite.staking.balanceOf(account)),
        threshold=int(suite.staking.proThreshold()),
    )


def pro_rows(status: ProStatus) -> list[tuple[str, str]]:
    why = [
        w for w, on in (("stake", status.by_stake), ("subscription", status.by_subscription)) if on
    ]
    rows = [
        ("account", status.account),
        ("Pro", f"yes, by {' and '.join(why)}" if why else "no"),
        ("staked", f"{vvv(status.staked)} (Pro from {vvv(status.threshold)})"),
    ]
    if status.until:
        ended = "runs until" if status.by_subscription else "ended"
        rows.append(("subscription", f"{ended} {format_time(status.until)}"))
    return rows


################################################################
#                            KEEPER                            #
################################################################


@dataclass(frozen=True)
class KeeperOutcome:
    """What a keeper run did. `action` is one of: bought, would-buy, nothing-to-do, observed,
    waiting, skipped (the price guard said no)."""

    action: str
    message: str
    receipts: tuple[Any, ...] = ()


@dataclass(frozen=True)
class BuybackPlan:
    amount_in: int
    twap_out: int  # at the TWAP, no fee, no price impact
    min_out: int
    expected_out: int  # what the router quotes now
    spot: int
    twap: int


def twap_problem(suite: Suite) -> str | None:
    """Why the burner's TWAP cannot be used in the next block (the contract's own rule), or
    None when it can. Read without a reverting call.

    The contract averages since the newer observation once it is a window old, else since the
    older one, and reverts "stale TWAP" when that start is past the maximum age. Right after
    a keeper records an observation on an idle chain, the older one is stale while the newer
    is too fresh: the contract says "stale", but waiting one window fixes it, so this says
    "too fresh" (and "stale" only when the newest observation itself is too old)."""
    burner = suite.burner
    older, _, newer, _ = (int(x) for x in burner.observations())
    window, max_age = int(burner.minTwapWindow()), int(burner.maxTwapAge())
    now = chain.pending_timestamp
    needs = f"the TWAP needs {format_duration(window)}"
    if now - newer >= window:
        if now - newer > max_age:
            return (
                f"stale: the newest price observation is {format_duration(now - newer)} old, "
                f"past the {format_duration(max_age)} limit"
            )
        return None
    if now - older < window:
        return (
            f"too fresh: the price observations are {format_duration(now - older)} old and {needs}"
        )
    if now - older > max_age:
        return (
            f"too fresh: the newest price observation is {format_duration(now - newer)} old and "
            f"{needs} (the older one is past the {format_duration(max_age)} limit)"
        )
    return None


def plan_buyback(suite: Suite, revenue: int, slippage_bps: int) -> BuybackPlan:
    """The buyback to send now: as much of the revenue (up to the per-call cap) as the pool
    takes while paying at least the TWAP amount less `slippage_bps`, and that minimum out
    (never below the contract's floor). Larger revenue is bought over several runs."""
    burner, router = suite.burner, suite.router
    path = [suite.usdc.address, suite.vvv.address]
    twap = int(burner.twapPrice(block_id=PENDING))
    spot = int(burner.spotPrice(block_id=PENDING))

    def minimum(amount: int) -> int:
        twap_out, floor = (int(x) for x in burner.quote(amount, block_id=PENDING))
        return max(-(-twap_out * (BPS - slippage_bps) // BPS), floor)

    def fits(amount: int) -> bool:
        return int(router.getAmountsOut(amount, path, block_id=PENDING)[1]) >= minimum(amount)

    amount = min(revenue, int(burner.maxAmountIn()))
    if not fits(amount):
        # The pool's output per USDC falls as the amount grows: bisect for the largest fit.
        low, high = 0, amount
        while high - low > max(1, amount // 1_000):
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        amount = low
    if amount == 0:
        return BuybackPlan(0, 0, 0, 0, spot, twap)
    twap_out = int(burner.quote(amount, block_id=PENDING)[0])
    expected = int(router.getAmountsOut(amount, path, block_id=PENDING)[1])
    return BuybackPlan(amount, twap_out, minimum(amount), expected, spot, twap)


def run_keeper(
    suite: Suite,
    keeper: AccountAPI,
    threshold: int,
    slippage_bps: int,
    dry_run: bool = False,
) -> KeeperOutcome:
    """One keeper round: keep the TWAP fresh and, when revenue reaches `threshold`, buy back
    and burn. Raises UserError only for what the operator must fix."""
    burner, usdc = suite.burner, suite.usdc
    if not 1 <= slippage_bps <= BPS:
        raise UserError(f"bad slippage: {slippage_bps} bps; give 1 to {BPS}")
    bound = int(burner.maxSlippageBps())
    if slippage_bps > bound:
        raise UserError(
            f"slippage {slippage_bps} bps is above the contract's bound of {bound} bps: the "
            "buyback would be refused; lower --slippage-bps"
        )
    if not burner.isKeeper(keeper):
        raise UserError(
            f"{keeper.address} is not a keeper of the buyback-burner {burner.address}; the "
            "owner grants the role with setKeeper"
        )
    revenue = int(usdc.balanceOf(burner))
    if revenue < threshold or revenue == 0:
        observed = _observe(suite, keeper, dry_run)
        note = " (recorded a price observation)" if observed else ""
        return KeeperOutcome(
            "nothing-to-do",
            f"Revenue {usd(revenue)} is below the threshold {usd(threshold)}: "
            f"nothing to buy{note}.",
            observed,
        )
    reason = twap_problem(suite)
    if reason is not None:
        observed = _observe(suite, keeper, dry_run)
        older, _, newer, _ = (int(x) for x in burner.observations())
        window = int(burner.minTwapWindow())
        what = "recorded a price observation" if observed else "no observation is due yet"
        if dry_run and chain.pending_timestamp - newer >= window:
            # A real run would record one now, and the next window would start from it.
            what = "would record a price observation"
            newer = chain.pending_timestamp
        ready = max(newer, older) + window
        return KeeperOutcome(
            "observed" if observed else "waiting",
            f"The TWAP is not usable yet ({reason}); {what}. Run again after "
            f"{format_time(ready)} (in {format_duration(ready - chain.pending_timestamp)}).",
            observed,
        )

    bound_bps = int(burner.maxDeviationBps())
    twap = int(burner.twapPrice(block_id=PENDING))
    spot = int(burner.spotPrice(block_id=PENDING))
    if abs(spot - twap) * BPS > bound_bps * twap:
        deviation = abs(spot - twap) * BPS / twap
        return KeeperOutcome(
            "skipped",
            f"Skipped: the pool's spot price is {deviation / 100:.2f}% from the TWAP, past the "
            f"{bound_bps / 100:.2f}% bound (a moved or manipulated pool). "
            "Nothing sent; the next run tries again.",
        )
    plan = plan_buyback(suite, revenue, slippage_bps)
    if plan.amount_in == 0:
        return KeeperOutcome(
            "skipped",
            f"Skipped: the pool cannot take even a small buy within {slippage_bps / 100:.2f}% "
            "of the TWAP. Nothing sent; the next run tries again.",
        )
    summary = (
        f"{usd(plan.amount_in)} of {usd(revenue)} revenue for about {vvv(plan.expected_out)} "
        f"(at least {vvv(plan.min_out)}; TWAP amount {vvv(plan.twap_out)})"
    )
    if dry_run:
        return KeeperOutcome("would-buy", f"Dry run: would buy back {summary}, then burn it.")
    supply = int(suite.vvv.totalSupply())
    deadline = chain.pending_timestamp + KEEPER_DEADLINE
    receipt = send(burner.buyback, plan.amount_in, plan.min_out, deadline, sender=keeper)
    burned = supply - int(suite.vvv.totalSupply())
    left = revenue - plan.amount_in
    rest = f"; {usd(left)} of revenue left for the next run" if left > 0 else ""
    return KeeperOutcome(
        "bought",
        f"Bought back {usd(plan.amount_in)} of VVV and burned {vvv(burned)} "
        f"(total burned by the buyback-burner: {vvv(int(burner.totalBurned()))}){rest}.",
        (receipt,),
    )


def _observe(suite: Suite, keeper: AccountAPI, dry_run: bool) -> tuple[Any, ...]:
    """Record a price observation when one is due (keeps the TWAP window short)."""
    burner = suite.burner
    _, _, newer, _ = (int(x) for x in burner.observations())
    if dry_run or chain.pending_timestamp - newer < int(burner.minTwapWindow()):
        return ()
    return (send(burner.update, sender=keeper),)


################################################################
#                           AIRDROP                            #
################################################################


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object that names the same key twice is refused, not silently collapsed (two
    claims of one account would otherwise become one)."""
    seen: dict[str, Any] = {}
    for key, item in pairs:
        if key in seen:
            why = (
                ": equal leaves share one claimed bit, so only one copy could ever be claimed; "
                "list each account once with its total"
                if key.lower().startswith("0x")
                else ""
            )
            raise UserError(f"the airdrop file names {key!r} twice in one object{why}")
        seen[key] = item
    return seen


def load_tree(path: Path) -> AirdropTree:
    """An airdrop file: ours (`ape run airdrop build`, "venice-airdrop-v1") or OpenZeppelin's
    `StandardMerkleTree.dump()` ("standard-v1"), either checked in full."""
    try:
        data = json.loads(path.read_text(), object_pairs_hook=_no_repeated_keys)
    except OSError as exc:
        raise UserError(f"cannot read the airdrop file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UserError(
            f"{path} is not JSON ({exc}); build it with `ape run airdrop build`"
        ) from None
    is_oz = isinstance(data, dict) and data.get("format") == OZ_FORMAT
    try:
        return AirdropTree.from_oz_dump(data) if is_oz else AirdropTree.from_json(data)
    except AirdropFormatError as exc:
        raise UserError(f"{path}: {exc}") from None


def airdrop_contract(suite: Suite) -> Any:
    if suite.airdrop is None:
        raise UserError(
            "this deployment has no airdrop: deploy one with `ape run airdrop deploy FILE`"
        )
    return suite.airdrop


def claim_airdrop(suite: Suite, claimant: AccountAPI, tree: AirdropTree, stake: bool) -> Outcome:
    airdrop = airdrop_contract(suite)
    if "0x" + bytes(airdrop.MERKLE_ROOT()).hex() != tree.root:
        raise UserError(
            f"the airdrop file's root {tree.root} is not the deployed airdrop's: wrong file?"
        )
    who = str(claimant.address)
    if who not in tree:
        raise UserError(f"{who} has no allocation in this airdrop")
    amount, proof = tree.amount(who), tree.proof(who)
    deadline = int(airdrop.DEADLINE())
    if chain.pending_timestamp > deadline:
        raise UserError(f"the claim window closed at {format_time(deadline)}")
    if airdrop.isClaimed(who, amount, proof):
        raise UserError(f"{who} has already claimed its {vvv(amount)}")
    receipt = send(airdrop.claim, amount, proof, stake, sender=claimant)
    where = "staked as sVVV" if stake else "to the wallet"
    return Outcome(f"Claimed {vvv(amount)}, {where}.", [receipt])


def claimed_text(suite: Suite, who: str) -> str:
    """What `who` claimed from the airdrop, read from its Claimed events (no tree needed)."""
    airdrop = airdrop_contract(suite)
    logs = list(
        airdrop.Claimed.range(
            suite.block, chain.blocks.head.number + 1, search_topics={"account": who}
        )
    )
    if not logs:
        return "nothing yet (give --tree FILE to see the allocation)"
    total = sum(int(log.amount) for log in logs)
    where = " (as sVVV)" if all(bool(log.staked) for log in logs) else ""
    return f"{vvv(total)}{where}"


def burn_unclaimed(suite: Suite, caller: AccountAPI) -> Outcome:
    airdrop = airdrop_contract(suite)
    deadline = int(airdrop.DEADLINE())
    if chain.pending_timestamp <= deadline:
        left = deadline - chain.pending_timestamp + 1
        raise UserError(
            f"the claim window is open until {format_time(deadline)} "
            f"({format_duration(left)} from now); burn after that"
        )
    left_over = int(suite.vvv.balanceOf(airdrop))
    if left_over == 0:
        return Outcome("Nothing left to burn.")
    receipt = send(airdrop.burnUnclaimed, sender=caller)
    return Outcome(f"Burned the unclaimed {vvv(left_over)}.", [receipt])
