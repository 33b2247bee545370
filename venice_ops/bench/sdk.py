"""Benchmark of venice_sdk's entitlement reads on a local Anvil: `ape run bench_sdk`.

Prints, measured in one run on the same node:
- cached `get`: checks per second on one core (median of 5 rounds);
- 1,000 cold wallets: RPC calls and seconds through the EntitlementsLens (one `eth_call`),
  beside the same call through a web3 contract and one web3 call per field per wallet (the
  naive client), and the ratio; the gas of that one call (a node caps an eth_call's gas);
- one wallet's read: the CPU it takes (the time a server's thread holds the GIL against its
  event loop), the client's own `eth_call` beside the same call through a web3 contract
  (medians of alternating rounds), and the ratio;
- 100 wallets due at once: the CPU of reading them together (one call, as a gateway worker
  does) beside one call each.
"""

from __future__ import annotations

import statistics
import time

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from rich.console import Console
from rich.table import Table
from web3 import Web3

from venice_ops.deploy.config import load_config
from venice_ops.deploy.suite import deploy_suite
from venice_ops.rpc import bind, send
from venice_sdk.entitlements import EntitlementClient, load_abi

console = Console(width=110)
VVV = 10**18


def naive_read(
    web3: Web3, addresses: dict[str, ChecksumAddress], wallets: list[ChecksumAddress]
) -> int:
    """One web3 call per field per wallet, as a client without the lens would do."""
    staking = web3.eth.contract(address=addresses["StakedVVV"], abi=load_abi("StakedVVV"))
    diem = web3.eth.contract(address=addresses["DIEM"], abi=load_abi("DIEM"))
    subs = web3.eth.contract(address=addresses["Subscriptions"], abi=load_abi("Subscriptions"))
    calls = 0
    for wallet in wallets:
        staking.functions.balanceOf(wallet).call()
        staking.functions.lockedStakes(wallet).call()
        staking.functions.cooldowns(wallet).call()
        staking.functions.pendingRewards(wallet).call()
        staking.functions.isPro(wallet).call()
        subs.functions.proUntil(wallet).call()
        diem.functions.stakedInfos(wallet).call()
        calls += 7
    staking.functions.totalStaked().call()
    return calls + 1


@click.command(cls=ConnectedProviderCommand)
@click.option("--wallets", default=1_000, show_default=True, help="Cold wallets per batch.")
@click.option("--gets", default=1_000_000, show_default=True, help="Cached gets per round.")
@click.option("--reads", default=300, show_default=True, help="One-wallet reads each way.")
def cli(wallets: int, gets: int, reads: int) -> None:
    """Measure cached checks per second and cold batch reads against the naive client."""
    logger.set_level("WARNING")
    deployer = accounts.test_accounts[0]
    suite = deploy_suite(deployer, load_config(), {"treasury": "test:1", "oracle": "test:2"})
    rpc = str(chain.provider.http_uri)
    addresses = {name: to_checksum_address(c.address) for name, c in suite.contracts().items()}
    # A population: every tenth wallet stakes, so reads return real values.
    targets = [to_checksum_address((0x9000 + i).to_bytes(20, "big")) for i in range(wallets)]
    vvv, staking = bind(suite.vvv), bind(suite.staking)
    send(vvv.functions.approve(staking.address, 2**256 - 1), deployer.address)
    for wallet in targets[::10]:
        send(staking.functions.stake(wallet, 200 * VVV), deployer.address)

    web3 = Web3(Web3.HTTPProvider(rpc))
    client = EntitlementClient(
        web3, addresses["EntitlementsLens"], contracts=dict(addresses), ttl=3_600
    )
    lens_times, web3_times = [], []
    for _ in range(3):
        client.invalidate()
        calls = client.rpc_calls
        start = time.perf_counter()
        client.get_many(targets)
        lens_times.append(time.perf_counter() - start)
        lens_calls = client.rpc_calls - calls
        start = time.perf_counter()  # the same eth_call through a web3 contract, beside it
        client.lens.functions.entitlements(targets).call()
        web3_times.append(time.perf_counter() - start)
    # The naive client once (7,001 calls take a while); between the lens rounds' figures.
    start = time.perf_counter()
    naive_calls = naive_read(web3, addresses, targets)
    naive_s = time.perf_counter() - start
    lens_s, web3_s = statistics.median(lens_times), statistics.median(web3_times)
    # The gas of one read of them all: a node caps an eth_call's gas (Anvil at its block's
    # 30M, geth's --rpc.gascap at 50M), and a read above the cap fails whole.
    read = client.lens.encode_abi("entitlements", [targets])
    read_gas = web3.eth.estimate_gas({"to": addresses["EntitlementsLens"], "data": read})

    one, web3_call = [targets[0]], client.lens.functions.entitlements
    own_cpu: list[float] = []
    web3_cpu: list[float] = []
    for _ in range(reads):
        for times, read in ((own_cpu, lambda: client.refresh(one)),
                              (web3_cpu, lambda: web3_call(one).call())):  # fmt: skip
            start = time.thread_time()
            read()
            times.append(time.thread_time() - start)
    own_ms, web3_ms = statistics.median(own_cpu) * 1e3, statistics.median(web3_cpu) * 1e3
    # 100 wallets due at once (a gateway worker's wallets not cached, or due for a refresh):
    # read together (one call, as the gateway's worker does) or one call each.
    due = targets[:100]
    together_cpu: list[float] = []
    each_cpu: list[float] = []
    for _ in range(max(3, reads // 30)):
        start = time.thread_time()
        client.refresh(due)
        together_cpu.append(time.thread_time() - start)
        start = time.thread_time()
        for wallet in due:
            client.refresh([wallet])
        each_cpu.append(time.thread_time() - start)
    together_ms = statistics.median(together_cpu) * 1e3
    each_ms = statistics.median(each_cpu) * 1e3

    hot = targets[0]
    client.get(hot)
    rates = []
    for _ in range(5):
        get = client.get
        start = time.perf_counter()
        for _ in range(gets):
            get(hot)
        rates.append(gets / (time.perf_counter() - start))
    cached = statistics.median(rates)

    table = Table(title="venice_sdk entitlement reads (same Anvil, one run)")
    for column in ("measure", "value", "target", "ok"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    rows = [
        (
            "cached get, checks/s (one core, median of 5)",
            f"{cached:,.0f}",
            ">= 300,000",
            cached >= 300_000,
        ),
        (f"{wallets:,} cold wallets: RPC calls (lens)", f"{lens_calls}", "<= 2", lens_calls <= 2),
        (f"{wallets:,} cold wallets: seconds (lens, median of 3)", f"{lens_s:.3f}", "", True),
        (f"{wallets:,} cold wallets: seconds (lens via web3)", f"{web3_s:.3f}", "", True),
        (f"{wallets:,} cold wallets: gas of the lens call", f"{read_gas:,}", "", True),
        (f"{wallets:,} cold wallets: RPC calls (naive)", f"{naive_calls:,}", "", True),
        (f"{wallets:,} cold wallets: seconds (naive, one round)", f"{naive_s:.3f}", "", True),
        ("naive / lens time", f"{naive_s / lens_s:.1f}x", ">= 20x", naive_s / lens_s >= 20),
        ("one wallet's read: CPU ms (the client's eth_call)", f"{own_ms:.2f}", "", True),
        ("one wallet's read: CPU ms (web3 contract call)", f"{web3_ms:.2f}", "", True),
        ("web3 / client CPU per read", f"{web3_ms / own_ms:.1f}x", ">= 3x", web3_ms >= 3 * own_ms),
        (
            f"{len(due)} wallets due: CPU ms, read together (one call)",
            f"{together_ms:.1f}",
            "",
            True,
        ),
        (f"{len(due)} wallets due: CPU ms, one call each", f"{each_ms:.1f}", "", True),
    ]
    failures = 0
    for measure, value, target, ok in rows:
        failures += not ok
        table.add_row(measure, value, target, "yes" if ok else "[red]NO[/red]")
    console.print(table)
    if failures:
        raise click.ClickException(f"{failures} figure(s) short of target")
