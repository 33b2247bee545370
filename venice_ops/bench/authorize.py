"""Benchmark of `Gatekeeper.authorize` end to end: `ape run bench_authorize [--seconds 2]`.

Deploys the suite on a local Anvil, gives 64 wallets staked DIEM (credit), then runs 1 and 8
worker processes, each with its own EntitlementClient (from the manifest, cache warmed with one
batched read), price book and ledger, calling `authorize(wallet, model, 900, 300)` on random
wallets for `--seconds`, one request per call and, with 8 workers, 32 concurrent requests per
`authorize_many` call (the wallets' debits in one transaction or one Redis pipeline of atomic
scripts): SQLite (fsync per commit, and WAL NORMAL) and Redis (appendfsync always, and
everysec). Prints authorizations per second, median of 3 runs, beside the issue's
targets (8 workers: SQLite >= 5,000/s, Redis >= 10,000/s) and the Redis/SQLite ratio, and the
machine's load average before and after and the cores other processes kept busy during the
8-worker runs (the figures are CPU-bound: read them with the load).
`--backends redis` measures one backend only.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from rich.console import Console
from rich.table import Table

from venice_ops.bench.redis import start_redis
from venice_ops.bench.setup import credit_wallets, machine_load
from venice_ops.bench.workers import authorize_worker
from venice_ops.deploy.config import load_config
from venice_ops.deploy.suite import deploy_suite, write_manifest

console = Console(width=110)
TARGETS = {"sqlite": 5_000, "redis": 10_000}
BATCH = 32  # concurrent requests decided together by authorize_many


def busy_seconds() -> float:
    """CPU seconds the machine has spent busy since boot, all cores (Linux: /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used (Linux: /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args: dict[str, Any], workers: int, redis_pid: int | None) -> tuple[float, float]:
    """Authorizations per second, and the cores that other processes (not the workers, not
    redis-server) kept busy meanwhile: the machine is shared, so read the one with the other."""
    # Spawned workers import `venice_ops.bench.workers` (the package is installed).
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
    busy, began = busy_seconds(), time.monotonic()
    redis_cpu = process_seconds(redis_pid) if redis_pid else 0.0
    go.set()
    results = [out.get(timeout=300) for _ in procs]
    ours = sum(cpu for _, cpu in results)
    if redis_pid:
        ours += process_seconds(redis_pid) - redis_cpu
    others = max(0.0, busy_seconds() - busy - ours) / (time.monotonic() - began)
    for p in procs:
        p.join()
    return sum(done for done, _ in results) / args["seconds"], others


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
    wallets = credit_wallets(suite, deployer)

    redis_server = start_redis(work)
    redis_url = redis_server.url
    redis_pid = redis_server.proc.pid if redis_server.proc else None
    base: dict[str, Any] = {
        "manifest": str(manifest),
        "rpc": str(chain.provider.http_uri),
        "wallets": wallets,
    }
    settings = [
        ("sqlite", "FULL", str(work / "full.sqlite3")),
        ("sqlite", "NORMAL", str(work / "normal.sqlite3")),
        ("redis", "always", redis_url),
        ("redis", "everysec", redis_url),
    ]
    settings = [setting for setting in settings if setting[0] in chosen]
    load_before = os.getloadavg()
    figures: dict[tuple[str, str, int], float] = {}
    others: dict[tuple[str, str, int], float] = {}
    try:
        import redis

        for backend, sync, target in settings:
            if backend == "redis":
                client = redis.Redis.from_url(redis_url)
                client.config_set("appendfsync", sync)
                client.close()
            for workers, batch in ((1, 1), (8, 1), (8, BATCH)):
                rates, busy = [], []
                for _ in range(runs):
                    args = {**base, "backend": backend, "sync": sync, "target": target}
                    args |= {"seconds": seconds, "batch": batch}
                    rate, other = run(args, workers, redis_pid if backend == "redis" else None)
                    rates.append(rate)
                    busy.append(other)
                figures[(backend, sync, workers * batch)] = statistics.median(rates)
                others[(backend, sync, workers * batch)] = statistics.median(busy)
    finally:
        redis_server.stop()
    load_after = os.getloadavg()

    table = Table(title=f"authorize per second (median of {runs} runs of {seconds:g} s)")
    columns = ("backend", "durability", "1 worker", "8 workers", f"8 x {BATCH} batched")
    for column in (*columns, "target (8)", "ok", "others' CPU (8)"):
        table.add_column(column, justify="left" if column in ("backend", "durability") else "right")
    for backend, sync, _ in settings:
        one, eight = figures[(backend, sync, 1)], figures[(backend, sync, 8)]
        batched = figures[(backend, sync, 8 * BATCH)]
        goal = TARGETS[backend]
        ok_text = "yes" if eight >= goal else "batched" if batched >= goal else "[red]NO[/red]"
        table.add_row(
            backend,
            sync,
            f"{one:,.0f}",
            f"{eight:,.0f}",
            f"{batched:,.0f}",
            f">= {TARGETS[backend]:,}",
            ok_text,
            f"{others[(backend, sync, 8)]:.2f}",
        )
    console.print(table)
    console.print(
        "ok: yes = one request per call meets the target; batched = only authorize_many does.\n"
        "others' CPU (8): cores other processes kept busy during the 8-worker runs (median)."
    )
    console.print(machine_load(load_before, load_after))
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
