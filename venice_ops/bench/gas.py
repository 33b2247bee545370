"""Receipt gas of every user-facing operation, measured on the connected Anvil.

Shared by `ape run bench_gas` (which prints the table) and the gas tests (which hold the
targets). Each figure is the median of several runs of the operation in its steady state.

The committed snapshot (`gas-snapshot.json`) holds every figure as the test command measures
it (the `SNAPSHOT_*` settings below, on a freshly deployed suite); the test command fails when
one rises more than `REGRESSION_LIMIT` above it. `ape run bench_gas --update-snapshot`
measures the same way and rewrites it.
"""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

from ape import accounts, chain
from eth_utils import to_checksum_address

from venice_ops.deploy.config import load_config
from venice_ops.deploy.suite import Suite, deploy_suite
from venice_ops.paths import PROJECT_ROOT
from venice_ops.rpc import bind, impersonate, mine, send

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


SNAPSHOT_PATH = PROJECT_ROOT / "gas-snapshot.json"
# How the snapshot's figures are measured (the test command and --update-snapshot alike).
SNAPSHOT_RUNS = 2
SNAPSHOT_VALUE_RUNS = 5
SNAPSHOT_CLAIMS = 500
# A figure more than 2% above its snapshot fails the test command.
REGRESSION_LIMIT = 0.02
# The floor for a token transfer: an ERC-20 transfer to an existing holder (the figure).
TRANSFER_FLOOR = 33_388


def fresh_suite() -> Suite:
    """The suite as the benchmarks measure it: deployed by test account 0, treasury and
    oracle test accounts 1 and 2."""
    return deploy_suite(
        accounts.test_accounts[0], load_config(), {"treasury": "test:1", "oracle": "test:2"}
    )


def _median(values: list[int]) -> int:
    return int(statistics.median(values))


def measure(prior_stakers: int = 1, runs: int = 5, suite: Suite | None = None) -> dict[str, int]:
    """Median receipt gas per operation with `prior_stakers` other stakers in the pool."""
    deployer = accounts.test_accounts[0]
    user, other = accounts.test_accounts[8], accounts.test_accounts[9]
    if suite is None:
        suite = fresh_suite()
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
    now = int(chain.blocks.head.timestamp)

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
        new_staker = not out["DIEM stake (new staker)"]  # the account's first DIEM stake
        gas = send(dm.stake(VVV // 10), u, at(1)).gas_used
        out["DIEM stake (new staker)" if new_staker else "DIEM stake (repeat)"].append(gas)
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
    from venice_ops.deploy.airdrop_tree import AirdropTree, claim_key
    from venice_ops.deploy.suite import deploy_airdrop

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
    # One claim a second: a claim into sVVV then always accrues (as it does on a live chain),
    # so its figure does not depend on how many claims the node fits into a second.
    now = chain.blocks.head.timestamp
    for i, (address, amount) in enumerate(rng.sample(entries, claims)):
        impersonate(address)
        proof = tree.proof(address)
        stake = i % 10 == 9
        now += 1
        gas = send(airdrop.functions.claim(amount, proof, stake), address, now).gas_used
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


def read_snapshot(path: Path = SNAPSHOT_PATH) -> dict[str, int]:
    """The committed figures, by operation (empty when there is no snapshot yet)."""
    if not path.exists():
        return {}
    return {name: int(gas) for name, gas in json.loads(path.read_text())["gas"].items()}


def write_snapshot(figures: dict[str, int], path: Path = SNAPSHOT_PATH) -> Path:
    data = {
        "about": (
            "Median receipt gas per user-facing operation on Anvil, measured by "
            "venice_ops/bench/gas.py at the settings below on a freshly deployed suite. The test "
            "command fails when a figure rises more than limit above its value here; refresh "
            "with `ape run bench_gas --update-snapshot`."
        ),
        "settings": {
            "runs": SNAPSHOT_RUNS,
            "value_runs": SNAPSHOT_VALUE_RUNS,
            "claims": SNAPSHOT_CLAIMS,
            "limit": REGRESSION_LIMIT,
        },
        "gas": dict(sorted(figures.items())),
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


@dataclass(frozen=True)
class SnapshotRow:
    operation: str
    gas: int
    snapshot: int | None  # None: not in the snapshot
    target: Target | None

    @property
    def change(self) -> float | None:
        return None if not self.snapshot else self.gas / self.snapshot - 1

    @property
    def regressed(self) -> bool:
        return self.snapshot is None or self.gas > self.snapshot * (1 + REGRESSION_LIMIT)

    @property
    def improved(self) -> bool:
        return self.snapshot is not None and self.gas < self.snapshot


def compare_with_snapshot(figures: dict[str, int], snapshot: dict[str, int]) -> list[SnapshotRow]:
    """One row per measured operation, in the tables' order."""
    targets = {**TARGETS, **VALUE_TARGETS}
    return [
        SnapshotRow(name, gas, snapshot.get(name), targets.get(name))
        for name, gas in figures.items()
    ]


def snapshot_report(rows: list[SnapshotRow], stale: list[str]) -> list[str]:
    """The gas table the test command prints: each figure against the snapshot, the token
    transfer floor and the operation's target and anchor; then what regressed or improved."""
    width = max(len(r.operation) for r in rows)
    lines = [
        f"{'operation':<{width}} {'gas':>8} {'snapshot':>8} {'change':>7} "
        f"{'/floor':>6} {'/target':>7} {'/anchor':>7}  anchor",
    ]
    for r in rows:
        change = "new" if r.change is None else f"{r.change:+.1%}"
        t = r.target
        lines.append(
            f"{r.operation:<{width}} {r.gas:>8,} {r.snapshot or 0:>8,} {change:>7} "
            f"{r.gas / TRANSFER_FLOOR:>6.3f} "
            + (
                f"{r.gas / t.target:>7.3f} {r.gas / t.anchor:>7.3f}  {t.anchor_name} ({t.anchor:,})"
                if t
                else f"{'-':>7} {'-':>7}  -"
            )
        )
    lines.append(
        f"floor: an ERC-20 transfer to an existing holder, {TRANSFER_FLOOR:,} gas; "
        f"limit: +{REGRESSION_LIMIT:.0%} over the snapshot ({SNAPSHOT_PATH.name})"
    )
    for r in rows:
        if r.snapshot is None:
            lines.append(f"NOT IN SNAPSHOT: {r.operation}")
            continue
        moved = f"{r.operation}: {r.snapshot:,} -> {r.gas:,} ({r.gas / r.snapshot - 1:+.2%})"
        if r.regressed:
            lines.append(f"REGRESSION: {moved}")
        elif r.improved:
            lines.append(
                f"improved: {moved}; lower the snapshot with `ape run bench_gas --update-snapshot`"
            )
    lines.extend(f"STALE: {name} is in the snapshot but no longer measured" for name in stale)
    return lines
