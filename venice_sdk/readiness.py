"""The sidecar's dependencies: readiness (`GET /readyz`) and how their failures are answered.

`/readyz` checks, at the same time, each within its own timeout budget:
- node: a lens call at the client's block tag and the node's chain id against the manifest's
  (`EntitlementClient.probe`; an open circuit breaker answers "not ready" at once, and an
  empty restarted chain, where the lens has no code, is not ready);
- ledger: a ping (`CreditLedger.ping`);
- keys: a ping of the key store (`KeyStore.ping`).

It answers 200 when all pass, else 503, with each check's outcome. `/healthz` is liveness only
and touches no dependency.

A ledger that cannot be reached (`LedgerUnavailable`) is a 503 with code ``ledger_unavailable``;
a key store that cannot (`KeyStoreUnavailable`, or a Redis challenge store's connection error)
one with ``key_store_unavailable``. A request is never allowed without its debit, and one the
caller is told failed is not charged (see `RedisLedger.settle`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from venice_sdk.auth import KeyStore, KeyStoreUnavailable
from venice_sdk.entitlements import EntitlementClient
from venice_sdk.errors import Reason
from venice_sdk.ledger import CreditLedger, LedgerUnavailable
from venice_sdk.ledger.connections import unavailable_errors
from venice_sdk.probes import check_dependencies

__all__ = ["Check", "Readiness", "Unavailable", "add_dependency_checks", "check_dependencies"]


class Check(BaseModel):
    """One dependency's check: ``ok``, else a ``code`` and a ``message``; the node's also
    carries ``chain_id``, ``block`` and ``breaker``."""

    model_config = ConfigDict(extra="allow")
    ok: bool
    code: str | None = None
    message: str | None = None


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, Check]


class Unavailable(BaseModel):
    """A dependency could not be reached: ``ledger_unavailable`` or ``key_store_unavailable``."""

    code: str
    message: str


def _unavailable(code: Reason | None, what: str) -> Any:
    """An exception handler answering 503 (retry after a second) that ``what`` is unavailable,
    with ``code`` (None: the exception's own)."""

    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"code": code or getattr(exc, "code", None), "message": f"{what} is unavailable"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    return handler


def add_dependency_checks(
    app: FastAPI, client: EntitlementClient, ledger: CreditLedger, keys: KeyStore | None
) -> None:
    """Add `/readyz` and the 503 answers for a ledger or key store that cannot be reached."""

    app.add_exception_handler(
        LedgerUnavailable, _unavailable(Reason.LEDGER_UNAVAILABLE, "the credit ledger")
    )
    app.add_exception_handler(KeyStoreUnavailable, _unavailable(None, "the API key store"))
    try:
        import redis
    except ImportError:  # no redis extra: no Redis-backed store either
        pass
    else:
        # A Redis-backed challenge store (sign-in) that does not answer.
        redis_unavailable = _unavailable(Reason.KEY_STORE_UNAVAILABLE, "the sign-in store (redis)")
        for error in unavailable_errors(redis):
            app.add_exception_handler(error, redis_unavailable)

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "a dependency is not ready"}},
    )
    async def readyz() -> JSONResponse:
        """Readiness: the node, the ledger and the key store each answer (else 503)."""
        ready, checks = await check_dependencies(client, ledger, keys)
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
