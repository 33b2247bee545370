"""Readiness checks of a server's dependencies, shared by the sidecar's ``/readyz``
(`venice_sdk.readiness`) and the gateway's: the node (`EntitlementClient.probe`: a lens call at
the client's block tag and the chain id; an open breaker answers at once), the ledger
(`CreditLedger.ping`) and the key store (`KeyStore.ping`), each run in a thread at once. No
web framework here: the gateway's workers import it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio.to_thread

from venice_sdk.auth import KeyStore, KeyStoreUnavailable
from venice_sdk.entitlements import EntitlementClient, EntitlementError
from venice_sdk.errors import Reason
from venice_sdk.ledger import CreditLedger, LedgerUnavailable

__all__ = ["check_dependencies"]


def _check(run: Callable[[], Any]) -> dict[str, Any]:
    try:
        detail = run()
    except EntitlementError as exc:
        return {"ok": False, "code": exc.code, "message": exc.message}
    except LedgerUnavailable as exc:
        return {"ok": False, "code": Reason.LEDGER_UNAVAILABLE, "message": str(exc)[:300]}
    except KeyStoreUnavailable as exc:
        return {"ok": False, "code": exc.code, "message": exc.message}
    except Exception as exc:  # anything else a store raises: not ready (never a 500)
        return {"ok": False, "code": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, **(detail or {})}


def _node(client: EntitlementClient) -> dict[str, Any]:
    return {**client.probe(), "breaker": client.breaker.state}


async def check_dependencies(
    client: EntitlementClient, ledger: CreditLedger, keys: KeyStore | None
) -> tuple[bool, dict[str, Any]]:
    """Each dependency's check, run at once in the thread pool; (all ok, outcomes)."""
    checks: dict[str, Callable[[], Any]] = {
        "node": lambda: _node(client),
        "ledger": ledger.ping,
    }
    if keys is not None:
        checks["keys"] = keys.ping
    outcomes = await asyncio.gather(
        *(anyio.to_thread.run_sync(_check, run) for run in checks.values())
    )
    results = dict(zip(checks, outcomes, strict=True))
    return all(r["ok"] for r in results.values()), results
