"""Worker processes for the benchmarks (importable by `spawn`, unlike `ape run` scripts)."""

from __future__ import annotations

import random
import time
from typing import Any


def authorize_worker(args: dict[str, Any], ready: Any, go: Any, out: Any) -> None:
    from venice_sdk.entitlements import EntitlementClient
    from venice_sdk.gate import Gatekeeper
    from venice_sdk.ledger import CreditLedger, RedisLedger, SQLiteLedger
    from venice_sdk.pricing import PriceBook

    client = EntitlementClient.from_manifest(args["manifest"], args["rpc"], ttl=3_600)
    wallets = args["wallets"]
    client.get_many(wallets)
    ledger: CreditLedger = (
        RedisLedger(args["target"])
        if args["backend"] == "redis"
        else SQLiteLedger(args["target"], synchronous=args["sync"])
    )
    gate = Gatekeeper(client, ledger, PriceBook.default())
    rng = random.Random()
    gate.authorize(wallets[0], "qwen3-4b", 900, 300)  # connections open, code warm
    ready.put(1)
    go.wait()
    cpu = time.process_time()
    until = time.time() + args["seconds"]
    done = 0
    batch = int(args.get("batch", 1))
    while time.time() < until:
        if batch == 1:
            decisions = [gate.authorize(rng.choice(wallets), "qwen3-4b", 900, 300)]
        else:
            requests = [(rng.choice(wallets), "qwen3-4b", 900, 300, 0) for _ in range(batch)]
            decisions = gate.authorize_many(requests)
        for decision in decisions:
            if not decision.allowed:
                raise RuntimeError(f"refused: {decision.reason}")
        done += len(decisions)
    out.put((done, time.process_time() - cpu))
