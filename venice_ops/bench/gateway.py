"""Benchmark of the gateway: `ape run bench_gateway [--seconds 5] [--connections 32]
[--streams 200] [--tokens 1000]`.

Deploys the suite on a local Anvil and gives a wallet 100 DIEM staked, then in one run starts
Redis, a fast OpenAI-compatible upstream (`venice_ops.bench.upstream`, its own process) and
`venice-sdk gateway` with 2 workers on that Redis in front of it, and loads both from separate
processes:

* non-streaming chat completions (`venice_ops.bench.load`, keep-alive connections, median of 3
  rounds) through the gateway (each request: key, cached entitlement, reserve, forward, settle,
  usage record) and straight at the upstream: requests per second, p50 and p99, and the ratio.
  Target: >= 1,000 requests/s at p99 <= 25 ms through the gateway on loopback.
* ``--streams`` concurrent streams of ``--tokens`` chunks (`venice_ops.bench.streams`), three
  rounds each way, alternating: how long each chunk took from the upstream to the client, and
  what the gateway added (the median over rounds of its p50 and p99 less the direct round's
  before it). Target: 200 streams with under 1 ms added per chunk at p99. In the same rounds,
  a bare byte relay (`venice_ops.bench.relay`, two processes as the gateway has two workers,
  no HTTP parsing, no metering): what any relay process adds on this machine, the floor under
  the gateway's figure.

Redis keeps its append-only file (fsync every second) but does not rewrite it during the run
(the rewrite's forked child would take one of the machine's cores for seconds). The gateway's
workers each listen on their own socket (`venice_sdk.gateway.workers`), so the connections
spread over them.

Beside each figure, the CPU the server's processes spent per request (or per chunk): on a busy
machine rates and latencies mostly measure the other tenants; this far less. `measure` is the
run without the chain or the table (the test runs it at a tiny size).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
from ape import chain
from ape.cli import ConnectedProviderCommand
from rich.console import Console
from rich.table import Table

from venice_ops.bench.redis import free_port, start_redis
from venice_ops.bench.setup import credit_wallets, machine_load
from venice_ops.bench.sidecar import cpu_seconds, deployed, load, server_process
from venice_ops.bench.upstream import PROMPT_TOKENS
from venice_ops.paths import PROJECT_ROOT

console = Console(width=120)
MODEL = "qwen3-4b"
#: Output tokens of each non-streaming completion.
REPLY_TOKENS = 16
#: The target: this many non-streaming requests a second through the gateway, at p99 <= 25 ms.
TARGET_RPS = 1_000


def measure(
    manifest: Path,
    rpc: str,
    wallet: str,
    work: Path,
    *,
    seconds: float,
    connections: int,
    streams: int,
    tokens: int,
    interval: float,
    workers: int = 2,
) -> dict[str, dict[str, Any]]:
    """Figures of each path (``direct`` / ``gateway``, non-streaming and streams) for a run
    on ``wallet``'s credit (it must have some); servers started in ``work`` and stopped."""
    from venice_sdk.auth import RedisKeyStore

    data = work / "gateway"
    data.mkdir(parents=True, exist_ok=True)
    bodies = work / "chat.txt"
    body = {"model": MODEL, "max_tokens": REPLY_TOKENS,
            "messages": [{"role": "user", "content": "Say hello in sixteen tokens."}]}  # fmt: skip
    bodies.write_text(json.dumps(body) + "\n")

    redis_server = start_redis(work / "redis")
    try:
        import redis

        client = redis.Redis.from_url(redis_server.url)
        client.config_set("appendfsync", "everysec")  # as a production Redis would run
        # No automatic AOF rewrite during the run: a rewrite forks Redis, and the child takes a
        # core of the machine the gateway is measured on for seconds (a ledger's Redis runs on
        # a machine of its own). The log still grows, and is fsynced, as in production.
        client.config_set("auto-aof-rewrite-percentage", "0")
        client.close()
        # The key in the fleet's Redis, as the sidecar and `venice-sdk keys` issue it: every
        # request through the gateway looks it up there (no cache: a revocation is seen at once).
        key = RedisKeyStore.from_url(redis_server.url).issue(wallet, True, label="bench").key
        header = ("--header", f"Authorization: Bearer {key}")
        up = f"http://127.0.0.1:{free_port()}"
        upstream_cmd = [
            *(sys.executable, "-m", "venice_ops.bench.upstream", "--port", up.rsplit(":", 1)[1]),
            *("--tokens", str(tokens), "--interval", str(interval)),
        ]
        gw = f"http://127.0.0.1:{free_port()}"
        gateway_cmd = [
            *(sys.executable, "-m", "venice_sdk.cli", "gateway", "--upstream", up),
            *("--manifest", str(manifest), "--rpc", rpc, "--port", gw.rsplit(":", 1)[1]),
            *("--workers", str(workers), "--redis-url", redis_server.url),
            # The default entitlement TTL (2 s): a wallet in use is refreshed ahead of expiry.
            *("--data-dir", str(data)),
        ]
        relay = f"http://127.0.0.1:{free_port()}"
        relay_cmd = [
            *(sys.executable, "-m", "venice_ops.bench.relay", "--port", relay.rsplit(":", 1)[1]),
            *("--upstream", up.rsplit(":", 1)[1], "--workers", str(workers)),
        ]
        with (
            server_process("upstream", upstream_cmd, f"{up}/v1/models") as upstream,
            server_process("gateway", gateway_cmd, f"{gw}/v1/models") as gateway,
            server_process("relay", relay_cmd, f"{relay}/v1/models") as relayed,
        ):
            post = ("--post", "/v1/chat/completions", "--expect", '"usage"', *header)
            at_target = ("--rate", str(TARGET_RPS))
            # Warm every worker (its entitlement cache, its connections) before measuring.
            warm = load(gw, bodies, 4 * workers, min(seconds, 1.0), *post)
            figures = {
                "direct": _timed(upstream.pid, "requests", load, up, bodies, connections,
                                 seconds, *post),
                "gateway": _timed(gateway.pid, "requests", load, gw, bodies, connections,
                                  seconds, *post),
                "direct at target": _timed(upstream.pid, "requests", load, up, bodies,
                                           connections, seconds, *post, *at_target),
                "gateway at target": _timed(gateway.pid, "requests", load, gw, bodies,
                                            connections, seconds, *post, *at_target),
            }  # fmt: skip
            paths = {"direct": (up, upstream.pid, ()), "relay": (relay, relayed.pid, ()),
                     "gateway": (gw, gateway.pid, header)}  # fmt: skip
            figures.update(_stream_rounds(paths, streams))
        figures["debits"] = _debits(redis_server.url, wallet, warm, figures, tokens)
    finally:
        redis_server.stop()
    return figures


def _debits(
    url: str, wallet: str, warm: dict[str, Any], figures: dict[str, dict[str, Any]], tokens: int
) -> dict[str, Any]:
    """What the gateway debited the wallet against what the upstream's usage says it should
    have: every answered request at the price of 20 tokens in and ``REPLY_TOKENS`` out, every
    stream at 20 in and ``tokens`` out (a benchmark that skipped the metering would show it)."""
    from venice_sdk.ledger import RedisLedger
    from venice_sdk.pricing import PriceBook

    prices = PriceBook.default()
    served = sum(f["requests"] - f["errors"] for f in
                 (warm, figures["gateway"], figures["gateway at target"]))  # fmt: skip
    streamed = figures["gateway streams"]["all_streams"] - figures["gateway streams"]["errors"]
    expected = served * prices.price(MODEL, PROMPT_TOKENS, REPLY_TOKENS) + streamed * (
        prices.price(MODEL, PROMPT_TOKENS, tokens)
    )
    ledger = RedisLedger(url)
    try:
        spent, held = ledger.spent(wallet), ledger.held(wallet)
    finally:
        ledger.close()
    return {"requests": served, "streams": streamed, "expected": expected, "spent": spent,
            "held": held}  # fmt: skip


def _timed(pid: int, per: str, run: Any, *args: Any) -> dict[str, Any]:
    """``run(*args)``'s figures, with the CPU the server ``pid`` spent per request (or chunk)
    in milliseconds: a figure a busy machine disturbs far less than rates and latencies."""
    before = cpu_seconds(pid)
    figures: dict[str, Any] = run(*args)
    figures["cpu_ms"] = (cpu_seconds(pid) - before) * 1_000 / max(1, figures[per])
    return figures


#: Rounds of streams each way, alternating (direct, gateway, direct, ...).
STREAM_ROUNDS = 3


def _stream_rounds(
    paths: dict[str, tuple[str, int, tuple[str, ...]]], streams: int
) -> dict[str, dict[str, Any]]:
    """`STREAM_ROUNDS` rounds of ``streams`` streams on each of ``paths`` (name: base URL,
    server's pid, the streams client's extra options; ``direct`` first), in turn, so the
    machine's slow and fast spells fall on every path: each path's median p50 and p99 over its
    rounds, and what each other path added as the median of its rounds' differences with the
    direct round just before (a machine this busy moves a single round's p99 by several ms)."""
    rounds: dict[str, list[dict[str, Any]]] = {f"{name} streams": [] for name in paths}
    for _ in range(STREAM_ROUNDS):
        for name, (base, pid, options) in paths.items():
            rounds[f"{name} streams"].append(
                _timed(pid, "chunks", _streams, base, streams, options)
            )
    out: dict[str, dict[str, Any]] = {}
    for name, done in rounds.items():
        chunks = sum(r["chunks"] for r in done)
        out[name] = {
            "streams": streams,
            "all_streams": sum(r["streams"] for r in done),
            "chunks": chunks,
            "seconds": sum(r["seconds"] for r in done),
            "p50_ms": statistics.median(r["p50_ms"] for r in done),
            "p99_ms": statistics.median(r["p99_ms"] for r in done),
            "errors": sum(r["errors"] for r in done),
            "cpu_ms": sum(r["cpu_ms"] * r["chunks"] for r in done) / max(1, chunks),
            "rounds": "; ".join(f"p50 {r['p50_ms']:.2f} p99 {r['p99_ms']:.2f} ms" for r in done),
        }
    for name in rounds:
        if name == "direct streams":
            continue
        pairs = list(zip(rounds["direct streams"], rounds[name], strict=True))
        for q in ("p50", "p99"):
            out[name][f"added_{q}_ms"] = statistics.median(
                g[f"{q}_ms"] - d[f"{q}_ms"] for d, g in pairs
            )
    return out


def _streams(base: str, streams: int, options: tuple[str, ...]) -> dict[str, Any]:
    out = subprocess.run(
        [
            *(sys.executable, "-m", "venice_ops.bench.streams", base),
            *("--streams", str(streams), "--model", MODEL, *options),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


def table(figures: dict[str, dict[str, Any]], seconds: float, connections: int) -> Table:
    direct, gateway = figures["direct"], figures["gateway"]
    t = Table(title=f"Gateway (2 workers, Redis) against its upstream reached directly; "
                    f"non-streaming: median of 3 rounds of {seconds:g} s, {connections} "
                    "connections")  # fmt: skip
    for column in ("path", "per second", "p50 ms", "p99 ms", "server CPU ms", "bad", "target",
                   "ok"):  # fmt: skip
        t.add_column(column, justify="left" if column == "path" else "right")
    at = figures["gateway at target"]
    ok = (gateway["rps"] >= TARGET_RPS and at["rps"] >= 0.99 * TARGET_RPS
          and at["p99_ms"] <= 25 and gateway["errors"] == at["errors"] == 0)  # fmt: skip
    rows = (
        ("as fast as it answers, direct", direct, "", None),
        ("as fast as it answers, gateway", gateway, f">= {TARGET_RPS:,}/s", None),
        (f"{TARGET_RPS:,}/s offered, direct", figures["direct at target"], "", None),
        (f"{TARGET_RPS:,}/s offered, gateway", at, "p99 <= 25 ms", ok),
    )
    for name, f, target, good in rows:
        t.add_row(f"non-streaming, {name}", f"{f['rps']:,.0f}", f"{f['p50_ms']:.2f}",
                  f"{f['p99_ms']:.2f}", f"{f['cpu_ms']:.2f} /req", str(f["errors"]), target,
                  _yes(good))  # fmt: skip
    for name, d, g in (("as fast as it answers", direct, gateway),
                       (f"{TARGET_RPS:,}/s", figures["direct at target"], at)):  # fmt: skip
        t.add_row(
            f"gateway / direct, {name}", f"{g['rps'] / d['rps']:.2f}x",
            f"{g['p50_ms'] / max(d['p50_ms'], 1e-9):.2f}x",
            f"{g['p99_ms'] / max(d['p99_ms'], 1e-9):.2f}x",
            f"{g['cpu_ms'] / max(d['cpu_ms'], 1e-9):.2f}x", "", "", "",
        )  # fmt: skip
    sd, sr, sg = figures["direct streams"], figures["relay streams"], figures["gateway streams"]
    added99 = sg["added_p99_ms"]
    good = sg["streams"] >= 200 and added99 < 1.0 and sg["errors"] == 0
    for name, f in (("direct", sd), ("bare relay", sr), ("gateway", sg)):
        t.add_row(f"{f['streams']} streams, {name}: chunk delay",
                  f"{f['chunks'] / f['seconds']:,.0f} chunks/s", f"{f['p50_ms']:.2f}",
                  f"{f['p99_ms']:.2f}", f"{f['cpu_ms']:.3f} /chunk", str(f["errors"]), "",
                  "")  # fmt: skip
    t.add_row("streams: a bare relay adds (the floor)", "", f"{sr['added_p50_ms']:+.2f}",
              f"{sr['added_p99_ms']:+.2f}", f"{sr['cpu_ms']:.3f} /chunk", "", "",
              "")  # fmt: skip
    t.add_row("streams: the gateway adds per chunk", "", f"{sg['added_p50_ms']:+.2f}",
              f"{added99:+.2f}", f"{sg['cpu_ms']:.3f} /chunk", "",
              "200 streams, < 1 ms at p99", _yes(good))  # fmt: skip
    return t


def debits_line(debits: dict[str, Any]) -> str:
    """Whether the gateway debited exactly what the upstream's usage was worth."""
    exact = debits["spent"] == debits["expected"] and debits["held"] == 0
    return (
        f"debited ${debits['spent'] / 1e6:,.6f} for {debits['requests']:,} requests and "
        f"{debits['streams']} streams; their usage at the price book: "
        f"${debits['expected'] / 1e6:,.6f}; still held: {debits['held']}: "
        + ("exact" if exact else "[red]MISMATCH[/red]")
    )


def _yes(good: bool | None) -> str:
    if good is None:
        return ""
    return "yes" if good else "[red]NO[/red]"


@click.command(cls=ConnectedProviderCommand)
@click.option("--seconds", default=5.0, show_default=True, help="Seconds per round.")
@click.option("--connections", default=32, show_default=True, help="Keep-alive connections.")
@click.option("--streams", default=200, show_default=True, help="Concurrent streams.")
@click.option("--tokens", default=1_000, show_default=True, help="Chunks per stream.")
@click.option("--interval", default=0.01, show_default=True, help="Seconds between chunks.")
def cli(seconds: float, connections: int, streams: int, tokens: int, interval: float) -> None:
    """Throughput, latency and per-chunk delay of the gateway against the direct path."""
    suite, deployer, work, manifest = deployed("venice-gateway-")
    wallet = credit_wallets(suite, deployer)[0]
    before = os.getloadavg()
    figures = measure(
        manifest, str(chain.provider.http_uri), wallet, work, seconds=seconds,
        connections=connections, streams=streams, tokens=tokens, interval=interval,
    )  # fmt: skip
    after = os.getloadavg()
    console.print(table(figures, seconds, connections))
    for name in ("direct", "gateway", "direct at target", "gateway at target", "direct streams",
                 "relay streams", "gateway streams"):  # fmt: skip
        console.print(f"{name}: {figures[name]['rounds']}")
    console.print(debits_line(figures["debits"]))
    console.print(machine_load(before, after))
