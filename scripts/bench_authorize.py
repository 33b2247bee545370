"""Benchmark of `Gatekeeper.authorize` end to end: `ape run bench_authorize [--seconds 2]`.

Deploys the suite on a local Anvil, gives 64 wallets staked DIEM (credit), then runs 1 and 8
worker processes, each with its own EntitlementClient (from the manifest, cache warmed with one
batched read), price book and ledger, calling `authorize(wallet, model, 900, 300)` on random
wallets for `--seconds`, one request per call and, with 8 workers, 32 concurrent requests per
`authorize_many` call (the wallets' debits in one transaction or one Redis pipeline of atomic
scripts): SQLite (fsync per commit, and WAL NORMAL) and Redis (appendfsync always, and
everysec). Prints authorizations per second, median of 3 runs, beside the issue's
targets (8 workers: SQLite >= 5,000/s, Redis >= 10,000/s) and the Redis/SQLite ratio, and the
machine's load average before and after (the figures are CPU-bound: read them with the load).
`--backends redis` measures one backend only.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from eth_utils import to_checksum_address
from rich.console import Console
from rich.table import Table

from scripts._lib.bench_workers import authorize_worker
from scripts._lib.config import PROJECT_ROOT, load_config
from scripts._lib.deploy import deploy_suite, write_manifest
from scripts._lib.fast import bind, impersonate, send
from scripts.bench_ledger import start_redis

console = Console(width=110)
VVV = 10**18
TARGETS = {"sqlite": 5_000, "redis": 10_000}
BATCH = 32  # concurrent requests decided together by authorize_many


def run(args: dict[str, Any], workers: int) -> float:
    # Spawned workers import `scripts._lib.bench_workers` from the checkout.
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    context = multiprocessing.get_context("spawn")
    ready, out, go = context.Queue(), context.Queue(), context.Event()
    procs = [
        context.Process(target=authorize_worker, args=(args, ready, go, out))
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    for _ in procs:  # every worker started, cache warm, ledger open
        ready.get(timeout=300)
    go.set()
    total = sum(out.get(timeout=300) for _ in procs)
    for p in procs:
        p.join()
    return total / args["seconds"]


@click.command(cls=ConnectedProviderCommand)
@click.option("--seconds", default=2.0, show_default=True, help="Seconds per run.")
@click.option("--runs", default=3, show_default=True, help="Runs per figure (median).")
@click.option(
    "--backends",
    default="sqlite,redis",
    show_default=True,
    help="Comma-separated backends to measure.",
)
def cli(seconds: float, runs: int, backends: str) -> None:
    """Authorizations per second on SQLite and Redis, 1 and 8 workers."""
    logger.set_level("WARNING")
    chosen = {b.strip() for b in backends.split(",") if b.strip()}
    if not chosen or not chosen <= set(TARGETS):
        raise click.BadParameter(f"choose from {', '.join(TARGETS)}", param_hint="--backends")
    config = load_config()
    deployer = accounts.test_accounts[0]
    suite = deploy_suite(deployer, config, {"treasury": "test:1"})
    work = Path(tempfile.mkdtemp(prefix="venice-authorize-"))
    manifest = write_manifest(suite, config, work)
    # 64 wallets with 100 DIEM staked each ($100 a day): the deployer mints and sends.
    vvv, staking, diem = bind(suite.vvv), bind(suite.staking), bind(suite.diem)
    d = deployer.address
    send(vvv.functions.approve(staking.address, 2**256 - 1), d)
    send(staking.functions.stake(d, 2_000_000 * VVV), d)
    send(staking.functions.mintExactDiem(6_400 * VVV, 2_000_000 * VVV), d)
    wallets = [str(a.address) for a in accounts.test_accounts[:8]]
    wallets += [to_checksum_address(f"0x{(0xB000 + i):040x}") for i in range(56)]
    for w in wallets[8:]:
        send(diem.functions.transfer(w, 100 * VVV), d)
    for account in accounts.test_accounts[1:8]:
        send(diem.functions.transfer(account.address, 100 * VVV), d)
    for account in accounts.test_accounts[:8]:
        send(diem.functions.stake(100 * VVV), account.address)
    # The impersonated wallets stake through Anvil.
    for w in wallets[8:]:
        impersonate(w)
        send(diem.functions.stake(100 * VVV), w)

    redis_proc, redis_url = start_redis(work)
    base = {"manifest": str(manifest), "rpc": str(chain.provider.http_uri), "wallets": wallets}
    settings = [
        ("sqlite", "FULL", str(work / "full.sqlite3")),
        ("sqlite", "NORMAL", str(work / "normal.sqlite3")),
        ("redis", "always", redis_url),
        ("redis", "everysec", redis_url),
    ]
    settings = [setting for setting in settings if setting[0] in chosen]
    load_before = os.getloadavg()
    figures: dict[tuple[str, str, int], float] = {}
    try:
        import redis

        for backend, sync, target in settings:
            if backend == "redis":
                client = redis.Redis.from_url(redis_url)
                client.config_set("appendfsync", sync)
                client.close()
            for workers, batch in ((1, 1), (8, 1), (8, BATCH)):
                rates = []
                for _ in range(runs):
                    args = {**base, "backend": backend, "sync": sync, "target": target}
                    rates.append(run({**args, "seconds": seconds, "batch": batch}, workers))
                figures[(backend, sync, workers * batch)] = statistics.median(rates)
    finally:
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
    load_after = os.getloadavg()

    table = Table(title=f"authorize per second (median of {runs} runs of {seconds:g} s)")
    columns = ("backend", "durability", "1 worker", "8 workers", f"8 x {BATCH} batched")
    for column in (*columns, "target (8)", "ok"):
        table.add_column(column, justify="left" if column in ("backend", "durability") else "right")
    for backend, sync, _ in settings:
        one, eight = figures[(backend, sync, 1)], figures[(backend, sync, 8)]
        batched = figures[(backend, sync, 8 * BATCH)]
        target = TARGETS[backend]
        ok_text = "yes" if eight >= target else "batched" if batched >= target else "[red]NO[/red]"
        table.add_row(
            backend,
            sync,
            f"{one:,.0f}",
            f"{eight:,.0f}",
            f"{batched:,.0f}",
            f">= {TARGETS[backend]:,}",
            ok_text,
        )
    console.print(table)
    console.print(
        "ok: yes = one request per call meets the target; batched = only authorize_many does."
    )
    console.print(
        f"{os.cpu_count()} CPUs; load average (1, 5, 15 min) before "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )
    if chosen != set(TARGETS):
        return
    for sqlite_sync, redis_sync in (("FULL", "always"), ("NORMAL", "everysec")):
        ratio = figures[("redis", redis_sync, 8)] / figures[("sqlite", sqlite_sync, 8)]
        batched_ratio = (
            figures[("redis", redis_sync, 8 * BATCH)] / figures[("sqlite", sqlite_sync, 8 * BATCH)]
        )
        console.print(
            f"Redis ({redis_sync}) / SQLite ({sqlite_sync}), 8 workers: {ratio:.2f}x single, "
            f"{batched_ratio:.2f}x batched"
        )
