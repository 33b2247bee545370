"""Receipt gas of every user-facing operation, measured on the connected Anvil.

Shared by `ape run bench_gas` (which prints the table) and the gas tests (which hold the
targets). Each figure is the median of several runs of the operation in its steady state.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass

from ape import accounts, chain
from eth_utils import to_checksum_address

from scripts._lib.config import load_config
from scripts._lib.deploy import Suite, deploy_suite
from scripts._lib.fast import bind, impersonate, mine, send

VVV = 10**18
DAY = 86_400


@dataclass(frozen=True)
class Target:
    operation: str
    target: int  # the ceiling
    anchor: int  # the reference implementation's figure
    anchor_name: str


TARGETS = {
    "VVV transfer (existing holder)": Target("transfer", 34_200, 34_513, "OpenZeppelin 5 ERC-20"),
    "sVVV stake (steady state)": Target("stake", 89_410, 89_410, "Synthetix stake"),
    "sVVV claim (repeat)": Target("claim", 76_545, 76_545, "Synthetix getReward"),
    "sVVV initiateUnstake (repeat)": Target("initiate", 84_713, 84_713, "Synthetix withdraw"),
    "sVVV initiateUnstake (account's first)": Target(
        "initiate1", 84_713, 84_713, "Synthetix withdraw"
    ),
    "sVVV finalizeUnstake": Target("finalize", 84_713, 84_713, "Synthetix withdraw"),
    "sVVV claimAndStake": Target("compound", 89_410, 89_410, "Synthetix stake"),
    "sVVV mintDiem": Target("mintDiem", 150_000, 150_000, "issue target"),
    "sVVV burnDiem": Target("burnDiem", 120_000, 120_000, "issue target"),
    "DIEM stake (repeat)": Target("diemStake", 60_000, 60_000, "issue target"),
    "DIEM stake (new staker)": Target("diemStake1", 60_000, 60_000, "issue target"),
    "DIEM transfer (existing holder)": Target(
        "diemTransfer", 34_200, 34_513, "OpenZeppelin 5 ERC-20"
    ),
}


def _median(values: list[int]) -> int:
    return int(statistics.median(values))


def measure(prior_stakers: int = 1, runs: int = 5, suite: Suite | None = None) -> dict[str, int]:
    """Median receipt gas per operation with `prior_stakers` other stakers in the pool."""
    deployer = accounts.test_accounts[0]
    user, other = accounts.test_accounts[8], accounts.test_accounts[9]
    if suite is None:
        suite = deploy_suite(deployer, load_config(), {"treasury": "test:1", "oracle": "test:2"})
    vvv, staking, diem = bind(suite.vvv), bind(suite.staking), bind(suite.diem)
    v, s, dm = vvv.functions, staking.functions, diem.functions
    d = deployer.address
    send(v.approve(staking.address, 2**256 - 1), d)
    # A population of prior stakers, staked by the deployer on their behalf.
    for i in range(prior_stakers):
        recipient = to_checksum_address((0x1000 + i).to_bytes(20, "big"))
        send(s.stake(recipient, 1_000 * VVV + i), d)
    # Prior DIEM minters: the deployer mints DIEM in as many locks as there are stakers.
    send(s.stake(d, 100_000 * VVV), d)
    for _ in range(min(prior_stakers, 200)):
        send(s.mintDiem(100 * VVV, 0), d)
    send(dm.stake(VVV // 10), d)  # the DIEM staking pool is not empty
    for account in (user, other):
        send(v.transfer(account.address, 1_000_000 * VVV), d)
        send(v.approve(staking.address, 2**256 - 1), account.address)
    u = user.address
    now = chain.blocks.head.timestamp

    def at(seconds: int) -> int:
        nonlocal now
        now += seconds
        return now

    out: dict[str, list[int]] = {name: [] for name in TARGETS}
    send(s.stake(u, 10_000 * VVV), u, at(1))
    # `other` already holds DIEM, so transfers to it are to an existing holder.
    send(s.mintDiem(1_000 * VVV, 1), u, at(1))
    send(dm.transfer(other.address, VVV // 100), u, at(1))
    first = send(s.initiateUnstake(VVV), u, at(3_600))
    out["sVVV initiateUnstake (account's first)"].append(first.gas_used)
    for _ in range(runs):
        out["VVV transfer (existing holder)"].append(
            send(v.transfer(other.address, VVV), u, at(1)).gas_used
        )
        # Steady state: time has passed, the staker has rewards accrued and stakes more.
        send(s.stake(u, VVV), u, at(3_600))
        out["sVVV stake (steady state)"].append(send(s.stake(u, VVV), u, at(3_600)).gas_used)
        out["sVVV claim (repeat)"].append(send(s.claim(), u, at(3_600)).gas_used)
        out["sVVV claimAndStake"].append(send(s.claimAndStake(), u, at(3_600)).gas_used)
        out["sVVV initiateUnstake (repeat)"].append(
            send(s.initiateUnstake(VVV), u, at(3_600)).gas_used
        )
        mine(at(8 * DAY))
        out["sVVV finalizeUnstake"].append(send(s.finalizeUnstake(), u, at(1)).gas_used)
        out["sVVV mintDiem"].append(send(s.mintDiem(1_000 * VVV, 1), u, at(3_600)).gas_used)
        out["sVVV burnDiem"].append(send(s.burnDiem(VVV), u, at(3_600)).gas_used)
        first = not out["DIEM stake (new staker)"]  # the account's first DIEM stake
        gas = send(dm.stake(VVV // 10), u, at(1)).gas_used
        out["DIEM stake (new staker)" if first else "DIEM stake (repeat)"].append(gas)
        out["DIEM transfer (existing holder)"].append(
            send(dm.transfer(other.address, VVV // 100), u, at(1)).gas_used
        )
    out["DIEM stake (repeat)"].append(send(dm.stake(VVV // 10), u, at(1)).gas_used)
    return {name: _median(values) for name, values in out.items()}


VALUE_TARGETS = {
    "Airdrop claim (40,000 leaves, median of a claim campaign)": Target(
        "claim", 85_000, 85_000, "issue target (Uniswap MerkleDistributor)"
    ),
    "Subscribe (new subscriber)": Target("subscribe", 110_000, 110_000, "issue target"),
    "Subscribe (extend)": Target("subscribe", 110_000, 110_000, "issue target"),
    "Buyback (Uniswap V2 swap + burn)": Target("buyback", 190_000, 190_000, "issue target"),
}
# Reported beside the targets, without one of their own.
VALUE_EXTRAS = (
    "Airdrop claim (first in its bitmap word)",
    "Airdrop claim (word already used)",
    "Airdrop claim into sVVV",
)


def measure_value_capture(
    suite: Suite, runs: int = 5, leaves: int = 40_000, claims: int = 1_000
) -> dict[str, int]:
    """Median receipt gas of the value-capture operations: a campaign of `claims` claims in
    random order from a `leaves`-leaf airdrop (by impersonated claimants; one in ten into
    sVVV), subscriptions, and keeper buybacks on Uniswap V2.

    A claim's gas depends on whether an earlier claim already set a bit in its 256-leaf
    bitmap word (zero to non-zero storage costs 17,100 more), so the campaign's median is the
    figure a claimant meets; the first-in-word and later-in-word medians are shown too."""
    from scripts._lib.airdrop import AirdropTree, claim_key
    from scripts._lib.deploy import deploy_airdrop

    deployer = accounts.test_accounts[0]
    d = deployer.address
    rng = random.Random(leaves)
    entries = [
        (to_checksum_address(rng.randbytes(20)), rng.randint(1, 100) * VVV) for _ in range(leaves)
    ]
    tree = AirdropTree(entries)
    airdrop = bind(
        deploy_airdrop(deployer, suite.vvv, suite.staking, tree.root, tree.total, load_config())
    )
    out: dict[str, list[int]] = {name: [] for name in (*VALUE_TARGETS, *VALUE_EXTRAS)}
    used_words: set[int] = set()
    for i, (address, amount) in enumerate(rng.sample(entries, claims)):
        impersonate(address)
        proof = tree.proof(address)
        stake = i % 10 == 9
        gas = send(airdrop.functions.claim(amount, proof, stake), address).gas_used
        word = claim_key(address, amount, proof) >> 8
        if stake:
            out["Airdrop claim into sVVV"].append(gas)
        else:
            out["Airdrop claim (40,000 leaves, median of a claim campaign)"].append(gas)
            fresh = word not in used_words
            out[
                f"Airdrop claim ({'first in its bitmap word' if fresh else 'word already used'})"
            ].append(gas)
        used_words.add(word)

    usdc, subs, burner = bind(suite.usdc), bind(suite.subscriptions), bind(suite.burner)
    for i in range(runs):
        # A fresh subscriber each run (impersonated), then an extension by the same.
        who = to_checksum_address((0x5000 + i).to_bytes(20, "big"))
        impersonate(who)
        send(usdc.functions.mint(who, 1_000 * 10**6), d)
        send(usdc.functions.approve(subs.address, 2**256 - 1), who)
        out["Subscribe (new subscriber)"].append(
            send(subs.functions.subscribe(0, 1, who), who).gas_used
        )
        out["Subscribe (extend)"].append(send(subs.functions.subscribe(0, 1, who), who).gas_used)

    send(usdc.functions.mint(burner.address, 100_000 * 10**6), d)
    window = burner.functions.minTwapWindow().call()
    now = chain.blocks.head.timestamp
    for _ in range(runs):
        now += window + 1
        mine(now)
        amount = 1_000 * 10**6
        _, floor = burner.functions.quote(amount).call()
        now += 1
        receipt = send(burner.functions.buyback(amount, floor, now + 600), d, now)
        out["Buyback (Uniswap V2 swap + burn)"].append(receipt.gas_used)
    return {name: _median(values) for name, values in out.items() if values}
