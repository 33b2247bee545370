"""The sidecar: entitlements, authorize and wallet sign-in over HTTP, for inference servers not
written in Python. `venice-sdk serve` runs it; FastAPI serves its OpenAPI spec at /openapi.json.

Token amounts are decimal strings of wei (they overflow JavaScript numbers), money is integer
micro-USD. A refused request is a 200 with `allowed: false` and a reason; malformed input is a
422 (``invalid_request``) or a 400, each a JSON object with a stable `code` (`venice_sdk.server`
has the models, the error answers and the middleware that caps bodies and checks the admin
token before anything is parsed).

Public routes: ``/v1/auth/*`` (sign-in, API keys, a wallet's key management with an admin key:
`venice_sdk.keys_api`) and ``/healthz``. Internal routes, for the
operator's own servers only: ``/v1/authorize``, ``/v1/entitlements/*``, ``/metrics`` and
``/readyz``; with an ``admin_token`` they require it. ``/v1/authorize`` and ``/v1/reserve``
take an API key; a bare wallet address only with ``allow_wallet_authorize`` (anyone who knows
an address could otherwise spend its credit).

Concurrent `/v1/authorize` requests are decided in batches (`AuthorizeBatcher`): one ledger call
(one SQLite transaction, one Redis pipeline of atomic scripts) for every request that arrived
while the previous batch was being decided, each request still getting its own decision.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Header, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from venice_sdk.auth import (
    KEY_PREFIX,
    AuthError,
    IssuedKey,
    KeyStore,
    SiweVerifier,
    WalletChallenges,
)
from venice_sdk.entitlements import Entitlement
from venice_sdk.errors import Reason
from venice_sdk.gate import Decision, Gatekeeper
from venice_sdk.gate import Request as AuthorizeArgs
from venice_sdk.pricing import UnknownModel
from venice_sdk.readiness import add_dependency_checks
from venice_sdk.server.errors import install_error_handlers
from venice_sdk.server.middleware import AdminGuard, BodyLimit, RequestContext
from venice_sdk.server.models import (
    AuthorizeRequest,
    ChallengeRequest,
    ChallengeResponse,
    DecisionResponse,
    EntitlementResponse,
    KeyRequest,
    KeyResponse,
    NonceResponse,
    RevokeResponse,
    SiweRequest,
    SiweResponse,
    responses,
)
from venice_sdk.usage import UsageStore

__all__ = [
    "AuthorizeBatcher",
    "AuthorizeRequest",
    "ChallengeRequest",
    "KeyRequest",
    "SiweRequest",
    "create_app",
    "decision_json",
    "entitlement_json",
]


class AuthorizeBatcher:
    """Decides concurrent authorize requests together through `Gatekeeper.authorize_many`.

    Requests wait in a queue; one batch of up to `max_batch` is decided at a time, in a worker
    thread, and the requests that arrive meanwhile form the next batch. So an idle server
    decides a lone request at once (no timer, no added latency), and a busy one amortises the
    thread hop and the ledger round trip over as many requests as arrived during one decision.
    `authorize_many` decides a batch exactly as `authorize` would one by one, in arrival order:
    each request gets its own decision, every debit is atomic, and no interleaving overspends.
    A request whose client went away is still decided (and charged, if allowed), as it would
    be without batching. Each request's outcome is its own (`Gatekeeper.decide_many`): a
    malformed one is refused alone, and if the ledger fails (`LedgerUnavailable`) the requests
    whose debits it did not apply fail with it, as each would have alone.

    Only for use from one event loop (the server's).
    """

    def __init__(
        self,
        gate: Gatekeeper,
        max_batch: int = 64,
        on_batch: Callable[[int], object] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.gate = gate
        self.max_batch = max_batch
        self.on_batch = on_batch  # called with each batch's size (metrics)
        self._queue: list[tuple[AuthorizeArgs, asyncio.Future[Decision]]] = []
        self._decider: asyncio.Task[None] | None = None

    async def authorize(self, request: AuthorizeArgs) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._decider is None:
            # Started on the loop's next turn: requests read in this turn join the first batch.
            self._decider = asyncio.create_task(self._decide())
        return await future

    async def _decide(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                if self.on_batch is not None:
                    self.on_batch(len(batch))
                try:
                    outcomes = await run_in_threadpool(
                        self.gate.decide_many, [request for request, _ in batch]
                    )
                except BaseException as exc:
                    for _, future in batch:
                        if future.done():
                            continue
                        if isinstance(exc, Exception):
                            future.set_exception(exc)
                        else:  # this task was cancelled (the server is stopping)
                            future.cancel()
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # cancelled by a client that went away
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._decider = None


def entitlement_json(e: Entitlement) -> dict[str, Any]:
    return {
        "address": e.address,
        "block": e.block,
        "timestamp": e.timestamp,
        "staked": str(e.staked),
        "locked": str(e.locked),
        "cooling": str(e.cooling),
        "unlock_time": e.unlock_time,
        "pending_rewards": str(e.pending_rewards),
        "pro": e.is_pro,
        "pro_reason": e.pro_reason,
        "pro_until": e.pro_until,
        "diem_staked": str(e.diem_staked),
        "diem_cooling": str(e.diem_cooling),
        "daily_credit_micros": e.daily_credit,
        "stale": e.stale,
        "degraded": e.degraded,
    }


class _Metrics:
    """Request count and latency per route, as a plain ASGI middleware (cheap per request)."""

    def __init__(self, app: ASGIApp, latency: Histogram, requests: Counter):
        self.app, self.latency, self.requests = app, latency, requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            name = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(name).observe(time.perf_counter() - start)
            self.requests.labels(name, str(status)).inc()


def decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "allowed": decision.allowed,
        "reason": decision.reason,
        "address": decision.address,
        "cost_micros": decision.cost,
        "spent_micros": decision.spent,
        "remaining_micros": decision.remaining,
        "daily_limit_micros": decision.daily_limit,
        "wallet_spent_micros": decision.wallet_spent,
        "wallet_remaining_micros": decision.wallet_remaining,
        "wallet_daily_limit_micros": decision.wallet_daily_limit,
        "source": decision.source,
        "pro": decision.pro,
        "stale": decision.stale,
    }


#: How long a SIWE session (an admin key) lasts.
SESSION_SECONDS = 24 * 3600


def _issued(issued: IssuedKey) -> dict[str, Any]:
    record = issued.record
    return {"key": issued.key, "key_id": record.key_id, "address": record.address,
            "kind": record.kind}  # fmt: skip


def create_app(
    gate: Gatekeeper,
    challenges: WalletChallenges,
    siwe: SiweVerifier,
    keys: KeyStore,
    authorize_batch: int = 64,
    *,
    admin_token: str | None = None,
    allow_wallet_authorize: bool = False,
    body_limit: int = 64 * 1024,
    usage_store: UsageStore | None = None,
) -> FastAPI:
    """The sidecar. `authorize_batch` caps the `/v1/authorize` requests decided together
    (`AuthorizeBatcher`); 1 decides each request on its own. With `admin_token`, the internal
    routes require it; without, they are open (bind to loopback only). `allow_wallet_authorize`
    lets `/v1/authorize` and `/v1/reserve` take a bare wallet address (trusted callers only).
    Request bodies over `body_limit` bytes are refused unread (413). With `usage_store`, each
    `/v1/settle` writes the request's usage record there (`venice_sdk.usage`)."""
    app = FastAPI(
        title="venice_sdk sidecar",
        version="0.1.0",
        description="Entitlement checks, credit metering and wallet sign-in for inference servers.",
    )
    registry = CollectorRegistry()
    requests = Counter(
        "venice_requests_total",
        "Requests by route and outcome",
        ["route", "outcome"],
        registry=registry,
    )
    latency = Histogram(
        "venice_request_seconds", "Request latency by route", ["route"], registry=registry
    )
    decisions = Counter(
        "venice_authorize_total", "authorize decisions by reason", ["reason"], registry=registry
    )

    batch_sizes = Histogram(
        "venice_authorize_batch_size",
        "authorize requests decided together",
        buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        registry=registry,
    )
    batcher = (
        AuthorizeBatcher(gate, authorize_batch, on_batch=batch_sizes.observe)
        if authorize_batch > 1
        else None
    )

    # Outermost last: request id, metrics, admin token, body cap, then the routes.
    app.add_middleware(BodyLimit, max_bytes=body_limit)
    if admin_token is not None:
        app.add_middleware(AdminGuard, token=admin_token)
    app.add_middleware(_Metrics, latency=latency, requests=requests)
    app.add_middleware(RequestContext)
    install_error_handlers(app)
    public = responses(internal=False, chain=True)
    internal = responses(internal=True, chain=True)

    add_dependency_checks(app, gate.client, gate.ledger, keys)  # /readyz, 503s (readiness.py)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """Liveness only: answers at once, touching no dependency (readiness is /readyz)."""
        return JSONResponse({"ok": True})

    @app.get("/metrics", response_class=PlainTextResponse, responses=internal)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(registry).decode(), media_type="text/plain")

    @app.get("/v1/entitlements/{address}", response_model=EntitlementResponse, responses=internal)
    async def entitlements(address: str = Path(max_length=64)) -> JSONResponse:
        # The hot path: a fresh cached entry answers on the event loop; a miss reads the chain
        # in the thread pool, so a slow node never blocks other requests.
        entitlement = gate.client.cached(address)
        if entitlement is None:
            entitlement = await run_in_threadpool(gate.client.get, address)
        return JSONResponse(entitlement_json(entitlement))

    @app.post("/v1/authorize", response_model=DecisionResponse, responses=internal)
    async def authorize(body: AuthorizeRequest) -> JSONResponse:
        request = (body.who, body.model, body.input_tokens, body.output_tokens, body.images)
        if not allow_wallet_authorize and not body.who.startswith(KEY_PREFIX):
            decision = Decision(False, Reason.WALLET_NOT_ALLOWED)
        elif batcher is not None:
            decision = await batcher.authorize(request)
        else:
            decision = await run_in_threadpool(gate.authorize, *request)
        decisions.labels(decision.reason).inc()
        return JSONResponse(decision_json(decision))

    @app.post("/v1/auth/challenge", response_model=ChallengeResponse, responses=public)
    def challenge(body: ChallengeRequest) -> dict[str, Any]:
        issued = challenges.issue_challenge(body.address)
        return {
            "address": issued.address,
            "message": issued.message,
            "expires_at": issued.expires_at,
        }

    @app.post("/v1/auth/keys", response_model=KeyResponse, responses=public)
    def issue_key(body: KeyRequest) -> dict[str, Any]:
        try:  # before the challenge is used up; the book of now (a reload may price more)
            gate.prices.check_models(body.models)
        except UnknownModel as exc:
            raise AuthError(Reason.UNKNOWN_MODEL, f"models: {exc}") from None
        if body.expires_at is not None and body.expires_at <= keys.now():
            raise ValueError("expires_at is not in the future: the key would be refused at once")
        address = challenges.verify_challenge(body.address, body.signature)
        issued = keys.issue(
            address,
            lambda a: gate.client.get(a).staked > 0,
            daily_limit_micros=body.daily_limit_micros,
            label=body.label,
            monthly_limit_micros=body.monthly_limit_micros,
            expires_at=body.expires_at,
            models=body.models,
            kind=body.kind,
        )
        return _issued(issued)

    @app.delete("/v1/auth/keys", response_model=RevokeResponse, responses=public)
    def revoke_key(authorization: str = Header(max_length=256)) -> dict[str, Any]:
        key = authorization.removeprefix("Bearer ").strip()
        record = keys.revoke(keys.resolve(key).key_id)
        return {"revoked": record.key_id}

    @app.get("/v1/auth/siwe/nonce", response_model=NonceResponse, responses=public)
    def siwe_nonce() -> dict[str, str]:
        return {"nonce": siwe.nonce()}

    @app.post("/v1/auth/siwe", response_model=SiweResponse, responses=public)
    def siwe_verify(body: SiweRequest) -> dict[str, str]:
        """Sign in with Ethereum: the session is an **admin** API key for the wallet (it may
        manage the wallet's keys, see `venice_sdk.keys_api`), valid for `SESSION_SECONDS`; the
        wallet must have staked VVV (``no_stake`` otherwise), as for `/v1/auth/keys`."""
        address = siwe.verify(body.message, body.signature)
        issued = keys.issue(
            address,
            lambda a: gate.client.get(a).staked > 0,
            label="siwe",
            kind="admin",
            expires_at=keys.now() + SESSION_SECONDS,
        )
        return _issued(issued)

    from venice_sdk.holds_api import holds_router  # reserve / settle / release (issue 14)
    from venice_sdk.keys_api import keys_router  # a wallet's keys: list, revoke, budgets

    app.include_router(holds_router(gate, usage_store, allow_wallets=allow_wallet_authorize))
    app.include_router(keys_router(keys))
    return app
