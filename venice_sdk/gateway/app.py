"""The gateway's ASGI app: an OpenAI-compatible reverse proxy that meters by holds.

Each metered request: ``Authorization: Bearer vvk_...`` -> the key's wallet -> its credit today
-> hold the request's worst case (`worst_case`, no network call) -> forward to the upstream ->
settle at the ``usage`` it reports (streams: ``stream_options.include_usage`` is asked for and
the last chunk's usage is used). A stream the client leaves is cut off upstream and settled at
the input plus the output streamed so far; a request the upstream fails before any output is
released. Refusals are OpenAI-shaped errors (`openai_error`). The metering steps (rate
limits, hold, settle or release, tokens, usage record) are the `Meter`'s (`make_meter`): on the
event loop over one pipelined Redis connection where the stores allow it, else in a worker
thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import gc
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from venice_sdk.auth import KEY_PREFIX, AuthError, KeyRecord
from venice_sdk.errors import Reason
from venice_sdk.gate import Gatekeeper
from venice_sdk.gateway.errors import openai_error, status_of
from venice_sdk.gateway.meter import Admitted, Served, make_meter
from venice_sdk.gateway.prepare import INLINE_BYTES, Preparer, Refused
from venice_sdk.gateway.reload import PriceBookReloader
from venice_sdk.gateway.stream import (
    STALL_TIMEOUT,
    Ending,
    MeteredStream,
    SseScanner,
    Usage,
    answer_usage,
    drained,
)
from venice_sdk.gateway.upstream import (
    MAX_ANSWER,
    UPSTREAM_ERRORS,
    Upstream,
    UpstreamError,
    acquire_within,
    describe,
)
from venice_sdk.ledger import (
    MAX_AMOUNT,
    LedgerUnavailable,
    normalize_account,
)
from venice_sdk.metering import Reservation
from venice_sdk.pricing import PriceBook, UnknownModel
from venice_sdk.probes import check_dependencies
from venice_sdk.ratelimit import RateLimiter, RateLimitPolicy, RateState
from venice_sdk.usage import UsageStore, to_csv

__all__ = ["METERED", "GatewayConfig", "create_gateway", "usd"]

#: Seconds a worker's readiness answer is given again before its checks run anew.
READINESS_EVERY = 1.0

log = logging.getLogger("venice_sdk.gateway")

#: The metered routes and the kind of request each takes.
METERED = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
    "/v1/images/generations": "images",
}


@dataclass(frozen=True)
class GatewayConfig:
    """``upstream``: the OpenAI-compatible server's base URL (``http://host:8000``, the routes'
    ``/v1/...`` are appended); ``upstream_key``: a bearer token it wants, if any;
    ``default_max_tokens``: the output limit of a request that sets none; ``continuous_usage``:
    also ask for usage in every chunk (vLLM's ``stream_options.continuous_usage_stats``) so a
    stream cut short settles at the upstream's own counts rather than the input's upper bound
    plus one token per chunk."""

    upstream: str
    upstream_key: str | None = None
    default_max_tokens: int = 4_096
    max_body_bytes: int = 4 * 1024 * 1024
    #: Most bytes of an upstream's answer read whole (not a stream); more fails the request.
    max_answer_bytes: int = MAX_ANSWER
    continuous_usage: bool = False
    timeout: float = 600.0
    #: Seconds a client whose socket is full may read nothing before it is dropped (a stream
    #: then settles what was streamed; an answer, already settled, is discarded): a client
    #: that stops reading would otherwise keep its upstream request and its hold, or its
    #: answer in memory, for ever.
    stall_timeout: float = STALL_TIMEOUT
    #: Seconds a client has to send its whole request body (a 408 after that, the connection
    #: closed): a key holder could otherwise send most of a 4 MiB body and then a byte now and
    #: then, and keep that memory in a worker for as long as it liked.
    body_timeout: float = 60.0
    #: Requests one wallet may have in flight in a worker, from its headers to its answer's
    #: last byte (more are answered 429 at once): one tenant's slow-reading streams would
    #: otherwise take the worker's connections to the upstream from the others. Counted per
    #: worker (each has its own connections): N workers let N times as many in.
    max_parallel: int = 256
    #: Request bodies of one wallet a worker reads at once (more wait their turn, up to
    #: ``body_timeout`` s, then a 429): a key holder sending many 4 MiB bodies slowly would
    #: otherwise fill the worker's memory (with this, at most this many ``max_body_bytes``).
    max_uploads: int = 16
    #: The price book's file, reloaded on SIGHUP or when it changes (polled every
    #: ``reload_every`` seconds); None: the prices never change.
    prices_path: str | None = None
    reload_every: float = 2.0
    #: Bodies larger than this are parsed in a process of the worker's own, not on its event
    #: loop (`venice_sdk.gateway.prepare`): parsing a million JSON values takes half a second.
    inline_body_bytes: int = INLINE_BYTES

    def __post_init__(self) -> None:
        if not self.upstream.startswith(("http://", "https://")):
            raise ValueError(f"upstream must be an http(s) URL, not {self.upstream!r}")
        base = self.upstream.rstrip("/")
        if base.endswith("/v1"):  # (the openai client's base_url has it; vLLM's docs too)
            raise ValueError(
                f"upstream {self.upstream!r} ends in /v1: pass {base[:-3]} (the gateway "
                "forwards /v1/chat/completions to <upstream>/v1/chat/completions, so this "
                "would be /v1/v1/..., a 404 for every request)"
            )
        if not 1 <= self.default_max_tokens <= 10_000_000:
            raise ValueError("default_max_tokens must be between 1 and 10,000,000")
        for name in ("max_body_bytes", "max_answer_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive number of bytes")
        for name in ("max_parallel", "max_uploads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.inline_body_bytes < 0:
            raise ValueError("inline_body_bytes must be a number of bytes")
        for name in ("timeout", "stall_timeout", "body_timeout"):
            if not getattr(self, name) > 0:  # (NaN too)
                raise ValueError(f"{name} must be positive seconds, not {getattr(self, name)}")


class InFlight:
    """Requests in flight per wallet in this worker, each wallet at most ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts: dict[str, int] = {}

    def take(self, wallet: str) -> bool:
        """Count one more request of ``wallet`` (False, and nothing counted, at its limit)."""
        count = self.counts.get(wallet, 0)
        if count >= self.limit:
            return False
        self.counts[wallet] = count + 1
        return True

    def give(self, wallet: str) -> None:
        """One request of ``wallet`` (counted by `take`) has ended."""
        count = self.counts.pop(wallet) - 1
        if count:
            self.counts[wallet] = count


class Uploads:
    """Request bodies being read per wallet in this worker: at most ``limit`` at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.turns: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}  # (gate, users)

    @contextlib.asynccontextmanager
    async def turn(self, wallet: str, seconds: float) -> AsyncIterator[bool]:
        """Wait up to ``seconds`` for one of ``wallet``'s turns: yields whether it got one."""
        entry = self.turns.get(wallet)
        if entry is None:
            entry = self.turns[wallet] = (asyncio.Semaphore(self.limit), [0])
        gate, users = entry
        users[0] += 1
        try:
            if not await acquire_within(gate, seconds):
                yield False
                return
            try:
                yield True
            finally:
                gate.release()
        finally:
            users[0] -= 1
            if not users[0]:
                del self.turns[wallet]


#: The scope's entry naming the wallet whose `InFlight` count a metered request holds.
_IN_FLIGHT = "venice.in_flight"
#: The scope's entry naming the request whose hold is renewed while it is served.
_LEASE = "venice.lease"


def usd(micros: int) -> str:
    """Micro-USD as a decimal string of USD (``1_500_000`` -> ``"1.500000"``)."""
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _balance_headers(remaining: int, request_id: str | None = None) -> dict[str, str]:
    # DIEM credit is $1 a day per DIEM staked, so the two balances are the same number.
    headers = {"x-venice-balance-usd": usd(remaining), "x-venice-balance-diem": usd(remaining)}
    if request_id is not None:
        headers["x-venice-request-id"] = request_id
    return headers


def _rate_headers(state: RateState | None) -> dict[str, str]:
    if state is None:
        return {}
    return {
        "x-ratelimit-limit-requests": str(state.limits.requests_per_minute),
        "x-ratelimit-remaining-requests": str(state.remaining_requests),
        "x-ratelimit-limit-tokens": str(state.limits.tokens_per_minute),
        "x-ratelimit-remaining-tokens": str(state.remaining_tokens),
        "x-ratelimit-reset-requests": f"{state.reset:.3f}s",
    }


def _parse_day(text: str | None) -> int | None:
    """An epoch day from ``YYYY-MM-DD`` or a number (None: no day given)."""
    if text is None or text == "":
        return None
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    try:
        moment = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"day must be YYYY-MM-DD or an epoch day, not {text!r}") from None
    return (moment - datetime.date(1970, 1, 1)).days


def _integer(query: Any, name: str, default: int) -> int:
    """The query's ``name`` as an integer (``default`` if absent)."""
    text = query.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ValueError(f"{name} must be a non-negative integer, not {text[:40]!r}")
    return int(text)


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(KEY_PREFIX) or len(token) > 256:
        return None
    return token


def create_gateway(
    gate: Gatekeeper,
    config: GatewayConfig,
    limiter: RateLimiter | None = None,
    policy: RateLimitPolicy | None = None,
    usage_store: UsageStore | None = None,
) -> ASGIApp:
    """The gateway over ``gate`` (its key store, entitlements, ledger and price book); with a
    ``limiter`` and a ``policy``, each key is also held to its requests and tokens per minute
    (429 with ``Retry-After`` beyond them)."""
    meter = make_meter(gate, limiter, policy, usage_store)
    in_flight = InFlight(config.max_parallel)

    # The holds of this worker's requests being served, renewed as leases (`renew_leases`):
    # request id -> (its reservation, when it was held or last renewed, on the ledger's clock).
    leases: dict[str, tuple[Reservation, float]] = {}

    def give_back(scope: Scope) -> None:
        """The request's `InFlight` slot back and its lease ended, if it holds them (once: its
        scope forgets them)."""
        wallet = scope.pop(_IN_FLIGHT, None)
        if wallet is not None:
            in_flight.give(wallet)
        leases.pop(scope.pop(_LEASE, ""), None)

    async def renew_leases() -> None:
        """Every sixth of ``hold_ttl``, renew the holds of the requests that have held theirs
        for a third of it: a stream served for longer than a hold lives keeps its hold (and
        its key's), and only the holds of a worker that died expire."""
        while True:
            ttl = gate.ledger.hold_ttl
            await anyio.sleep(ttl / 6)
            try:
                now = float(gate.ledger.clock())
                due = [(rid, held) for rid, (held, at) in leases.items() if now - at >= ttl / 3]
                if due:
                    await meter.renew([held for _, held in due])
                    for rid, held in due:
                        if rid in leases:  # (not ended meanwhile)
                            leases[rid] = (held, now)
            except Exception:  # (never the worker's end: the next round tries again)
                log.exception("renewing holds failed")

    uploads = Uploads(config.max_uploads)

    # Its session is made on first use (so an app run without its lifespan works too).
    upstream = Upstream(config.upstream, config.upstream_key, config.timeout)
    preparer = Preparer(config.inline_body_bytes)  # its process is started on first use

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # What the worker loaded to start (web3, the ABIs, the price book) lives as long as it
        # does: out of the collector's sight, a full collection no longer walks it, which
        # otherwise stalled every stream of the worker for milliseconds now and then.
        # Young collections run every 10,000 allocations rather than 700: a request makes a
        # few hundred short-lived objects, which reference counting frees before any count.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)
        try:
            async with anyio.create_task_group() as group:
                if config.prices_path is not None:
                    reloader = PriceBookReloader(gate, config.prices_path, config.reload_every)
                    group.start_soon(reloader.run)
                group.start_soon(renew_leases)
                yield
                group.cancel_scope.cancel()
        finally:
            await upstream.close()
            await meter.close()
            preparer.close()

    def price(prices: PriceBook, model: str, usage: Usage) -> int | None:
        try:
            return min(prices.price(model, usage.prompt_tokens, usage.completion_tokens),
                       MAX_AMOUNT)  # fmt: skip
        except (UnknownModel, ValueError):
            return None

    resolve = meter.resolve  # a presented key's record (raises `AuthError`)

    async def models(request: Request) -> Response:
        key = _bearer(request)
        if key is None:
            return openai_error(Reason.INVALID_API_KEY, "send 'Authorization: Bearer vvk_...'")
        try:
            await resolve(key)
        except AuthError as exc:
            return openai_error(exc.code, exc.message)
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "venice"} for m in gate.prices
        ]
        return JSONResponse({"object": "list", "data": data})

    async def usage_route(request: Request) -> Response:
        """``GET /v1/usage``: the caller's records (``scope=wallet``, the default: every key of
        its wallet; ``scope=key``: this key's), ``day`` (YYYY-MM-DD or an epoch day),
        ``cursor``, ``limit`` (1-1000), ``format`` (json or csv). ``GET /v1/usage/daily``: the
        day's sums by key and model."""
        assert usage_store is not None
        key = _bearer(request)
        if key is None or gate.keys is None:
            return openai_error(Reason.INVALID_API_KEY, "send 'Authorization: Bearer vvk_...'")
        try:
            record = await resolve(key)
        except AuthError as exc:
            return openai_error(exc.code, exc.message)
        q = request.query_params
        try:
            scope = q.get("scope", "wallet")
            if scope not in ("wallet", "key"):
                raise ValueError("scope must be 'wallet' or 'key'")
            wallet = normalize_account(record.address)
            who = {"wallet": wallet} if scope == "wallet" else {"key_id": record.key_id}
            day = _parse_day(q.get("day"))
            cursor, limit = _integer(q, "cursor", 0), _integer(q, "limit", 100)
            fmt = q.get("format", "json")
            if fmt not in ("json", "csv"):
                raise ValueError(f"format must be json or csv, not {fmt[:40]!r}")
            if request.url.path.endswith("/daily"):
                sums = await anyio.to_thread.run_sync(
                    lambda: usage_store.daily(
                        day if day is not None else gate.ledger.today(), **who
                    )
                )
                return JSONResponse({"data": [asdict(d) for d in sums]})
            page = await anyio.to_thread.run_sync(
                lambda: usage_store.query(day=day, cursor=cursor, limit=limit, **who)
            )
        except ValueError as exc:
            return openai_error(Reason.BAD_REQUEST, str(exc))
        except LedgerUnavailable as exc:
            return openai_error(Reason.LEDGER_UNAVAILABLE, f"usage unavailable: {exc}")
        next_cursor = {} if page.next_cursor is None else {"x-next-cursor": str(page.next_cursor)}
        if fmt == "csv":
            return Response(to_csv(page.records), media_type="text/csv", headers=next_cursor)
        return JSONResponse(
            {"data": [asdict(r) for r in page.records], "next_cursor": page.next_cursor}
        )

    async def proxy(request: Request) -> Response | MeteredStream:
        path: str = request.scope["path"]
        kind = METERED[path]
        key = _bearer(request)
        if key is None:
            return openai_error(Reason.INVALID_API_KEY, "send 'Authorization: Bearer vvk_...'")
        # Who is asking, before a byte of the body is read: a caller without a valid key is
        # refused at once, and cannot make a worker keep (up to max_body_bytes of) its body.
        try:  # (the record goes on to the reserve: looked up once)
            record = await resolve(key)
        except AuthError as exc:  # (and KeyStoreUnavailable: a 503)
            return openai_error(exc.code, exc.message)
        wallet = normalize_account(record.address)
        if not in_flight.take(wallet):
            return openai_error(
                Reason.TOO_MANY_PARALLEL,
                f"this wallet has {in_flight.limit} requests in flight here; retry when one "
                "has ended",
                headers={"retry-after": "1"},
            )
        request.scope[_IN_FLIGHT] = wallet  # given back by `metered` once the answer is out
        async with uploads.turn(wallet, config.body_timeout) as turn:
            if not turn:
                return openai_error(
                    Reason.TOO_MANY_PARALLEL,
                    f"this wallet's other {uploads.limit} request bodies being sent here took "
                    f"longer than {config.body_timeout:g} s; retry",
                    headers={"retry-after": "1"},
                )
            raw = await _read_body(request, config.max_body_bytes, config.body_timeout)
        if isinstance(raw, Response):
            return raw
        prices = gate.prices  # this request's prices, whatever a reload does meanwhile
        try:  # (a large body in the worker's own process: its event loop is not held up)
            prepared = await preparer.prepare(
                kind, raw, prices, config.default_max_tokens, config.continuous_usage
            )
        except Refused as refused:
            return openai_error(refused.reason, refused.message, refused.status)
        model, bound, streaming = prepared.model, prepared.bound, prepared.streaming
        try:
            max_cost = prices.price(model, bound.input_tokens, bound.output_tokens, bound.images)
        except ValueError as exc:
            return openai_error(Reason.BAD_REQUEST, str(exc))
        if max_cost > MAX_AMOUNT:
            return openai_error(Reason.BAD_REQUEST, "the request's worst case is too large")

        admitted: Admitted | None = None
        if meter.limits:
            try:
                admitted = await meter.admit(key, record)
            except LedgerUnavailable as exc:
                return openai_error(Reason.LEDGER_UNAVAILABLE, f"rate limits unavailable: {exc}")
            if admitted is not None and not admitted[1].allowed:
                state = admitted[1]
                return openai_error(
                    Reason.RATE_LIMITED,
                    f"rate limit reached: {state.limits.requests_per_minute} requests and "
                    f"{state.limits.tokens_per_minute} tokens a minute ({state.exceeded}); "
                    f"retry in {state.retry_after}s",
                    headers={"retry-after": str(state.retry_after), **_rate_headers(state)},
                )
        rate = _rate_headers(admitted[1] if admitted is not None else None)

        request_id = f"gw-{uuid.uuid4().hex}"
        try:
            reservation = await meter.reserve(key, request_id, max_cost, model, record)
        except LedgerUnavailable as exc:
            return openai_error(Reason.LEDGER_UNAVAILABLE, f"the ledger is unavailable: {exc}")
        if not reservation.allowed:
            return _refusal(reservation, max_cost, rate, model, record)
        leases[request_id] = (reservation, float(gate.ledger.clock()))
        request.scope[_LEASE] = request_id  # ended by `give_back`, with the slot

        try:
            response = await upstream.post(path, prepared.payload)
        except UPSTREAM_ERRORS as exc:
            await meter.release(reservation, model)
            return openai_error(
                Reason.UPSTREAM_UNAVAILABLE, f"the upstream failed: {describe(exc)}"
            )
        if response.status >= 400:
            data, failed = b"", False
            try:
                data = await response.read(config.max_answer_bytes)
            except UPSTREAM_ERRORS:
                failed = True
            finally:
                response.close()
            await meter.release(reservation, model)
            if response.status >= 500 or failed:
                return openai_error(
                    Reason.UPSTREAM_UNAVAILABLE, f"the upstream answered {response.status}"
                )
            headers = {**_balance_headers(reservation.remaining + max_cost), **rate}
            return Response(data, response.status, media_type="application/json",
                            headers=headers)  # fmt: skip

        if streaming:

            async def on_end(ending: Ending, scanner: SseScanner, sent_any: bool) -> None:
                if ending == "upstream_failed" and not sent_any:
                    await meter.release(reservation, model)
                    return
                # Its usage chunk was streamed: that usage (whether or not the client stayed for
                # the end). Cut short: the upstream's counts so far if it sends them in every
                # chunk, else (as when it sends none) the input's upper bound and one token per
                # output event streamed.
                usage = scanner.final_usage
                if usage is None and config.continuous_usage:
                    usage = scanner.usage
                    if usage is not None and bound.prompts > 1:  # (its events: one prompt's)
                        usage = Usage(bound.input_tokens, usage.completion_tokens)
                if usage is None:
                    usage = Usage(bound.input_tokens, scanner.events)
                cost = price(prices, model, usage)
                await meter.finish(reservation, Served(model, ending, cost, usage, admitted))

            headers = {**_balance_headers(reservation.remaining, request_id), **rate}
            # Its slot back once its last byte is out, not after the settle: a keep-alive
            # client's next request may come before the settle is done.
            sent = functools.partial(give_back, request.scope)
            return MeteredStream(response, headers, on_end, config.stall_timeout, sent)

        try:
            data = await response.read(config.max_answer_bytes)
        except UPSTREAM_ERRORS as exc:
            await meter.release(reservation, model)
            return openai_error(
                Reason.UPSTREAM_UNAVAILABLE, f"the upstream failed: {describe(exc)}"
            )
        finally:
            response.close()
        cost: int | None
        usage: Usage | None = None
        images = 0
        if kind == "images":  # (a few images: a full parse is quick)
            try:
                answer = json.loads(data)
            except (ValueError, RecursionError):
                answer = None
            made = answer.get("data") if isinstance(answer, dict) else None
            images = len(made) if isinstance(made, list) else bound.images
            cost = prices.price(model, 0, 0, len(made)) if isinstance(made, list) else None
        else:
            usage = answer_usage(data)
            cost = price(prices, model, usage) if usage is not None else None
        # No usable usage: the request is charged its hold (the worst case).
        served = Served(model, "complete", cost, usage, admitted, images)
        remaining = await meter.finish(reservation, served)
        headers = {**_balance_headers(remaining, request_id), **rate}
        return Response(data, 200, media_type="application/json", headers=headers)

    async def healthz(_: Request) -> Response:
        """Liveness: answers at once and touches nothing."""
        return JSONResponse({"ok": True})

    # The last readiness answer and when it was made: anyone may ask, and each check costs a
    # chain read, a Redis write and an upstream request, so they run at most once a second a
    # worker (callers meanwhile, or waiting on the checks under way, get that answer).
    readiness: list[Any] = [-1.0, None]
    readiness_lock = asyncio.Lock()

    async def readyz(_: Request) -> Response:
        """Readiness, for a load balancer: the node, the ledger and the key store, checked as
        the sidecar's `/readyz` does, and the upstream (a ``GET /v1/models`` answered below
        500), at once; 200 when all pass, else 503. Anyone may ask, so each check says only
        ``ok`` or its ``code``; why goes to the log."""
        async with readiness_lock:
            loop = asyncio.get_running_loop()
            if loop.time() - readiness[0] >= READINESS_EVERY:
                readiness[1] = await check_readiness()
                readiness[0] = loop.time()
            ready, checks = readiness[1]
        return JSONResponse({"ready": ready, "checks": checks}, 200 if ready else 503)

    async def check_readiness() -> tuple[bool, dict[str, dict[str, Any]]]:
        (_, checks), upstream_check = await asyncio.gather(
            check_dependencies(gate.client, gate.ledger, gate.keys), probe_upstream()
        )
        checks["upstream"] = upstream_check
        public: dict[str, dict[str, Any]] = {}
        for name, check in checks.items():
            if check["ok"]:
                public[name] = {"ok": True}
            else:
                public[name] = {"ok": False, "code": check.get("code") or "error"}
                log.warning("not ready: %s: %s", name, check.get("message"))
        return all(c["ok"] for c in public.values()), public

    async def probe_upstream() -> dict[str, Any]:
        code = Reason.UPSTREAM_UNAVAILABLE.value
        try:
            status = await upstream.probe()
        except UpstreamError as exc:
            return {"ok": False, "code": code, "message": str(exc)}
        if status >= 500:
            return {"ok": False, "code": code, "message": f"GET /v1/models answered {status}"}
        return {"ok": True}

    routes = [Route(path, proxy, methods=["POST"]) for path in METERED]
    routes.append(Route("/v1/models", models, methods=["GET"]))
    routes.append(Route("/healthz", healthz, methods=["GET"]))
    routes.append(Route("/readyz", readyz, methods=["GET"]))
    if usage_store is not None:
        routes.append(Route("/v1/usage", usage_route, methods=["GET"]))
        routes.append(Route("/v1/usage/daily", usage_route, methods=["GET"]))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.preparer = preparer
    app.state.meter = meter  # which path meters (`Meter` or `RedisMeter`), for operators
    app.state.in_flight, app.state.uploads, app.state.leases = in_flight, uploads, leases

    async def metered(scope: Scope, receive: Receive, send: Send) -> None:
        # The metered routes skip Starlette's router and middleware (two wrappers around every
        # chunk a stream sends); an error in them is still a 500 (uvicorn's).
        if scope["type"] == "http" and scope["path"] in METERED and scope["method"] == "POST":
            try:
                response = await proxy(Request(scope, receive))
                await response(scope, receive, send)
                if not isinstance(response, MeteredStream):  # (a stream bounds its own sends)
                    await drained(send, config.stall_timeout)
            finally:
                give_back(scope)
        else:
            await app(scope, receive, send)

    metered.state = app.state  # type: ignore[attr-defined]
    return metered


async def _read_body(request: Request, max_bytes: int, seconds: float) -> bytes | Response:
    """The request's body: a 413 as soon as it passes ``max_bytes`` (not once it is all read:
    it could be any size), a 408 if it has not all come within ``seconds`` (both close the
    connection: the rest is never read). (One asyncio timeout: anyio's ``move_on_after``
    around each part cost ~13 us each, a tenth of the gateway's CPU on a request's path.)"""
    # One buffer, not a list of parts: a body sent a byte per TCP segment is a part per byte,
    # ~48 bytes of memory each as a list of bytes objects (a 4 MiB body, ~190 MiB).
    body = bytearray()
    receive = request.receive
    close = {"connection": "close"}
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client left: answered to no one
                    return openai_error(Reason.BAD_REQUEST, "the client left", 400)
                part: bytes = message.get("body", b"")
                more = message.get("more_body", False)
                if not more and not body and len(part) <= max_bytes:
                    return part  # the whole body in one part (most requests): not copied
                body += part
                if len(body) > max_bytes:
                    message_ = f"the body is over {max_bytes} bytes"
                    return openai_error(Reason.BAD_REQUEST, message_, 413, headers=close)
                if not more:
                    return bytes(body)
    except TimeoutError:
        message_ = f"the client did not send its whole body within {seconds:g} s"
        return openai_error(Reason.BAD_REQUEST, message_, 408, headers=close)


def _refusal(
    reservation: Reservation,
    max_cost: int,
    rate: dict[str, str],
    model: str = "",
    record: KeyRecord | None = None,
) -> JSONResponse:
    code = reservation.reason
    headers = _balance_headers(reservation.remaining) if reservation.address else {}
    headers.update(rate)
    if status_of(code) == 402:
        when = "this month" if code == Reason.KEY_MONTHLY_LIMIT_REACHED else "today"
        message = (
            f"insufficient credit: this request may cost up to ${usd(max_cost)} and "
            f"${usd(reservation.remaining)} is left {when} ({code})"
        )
    elif status_of(code) == 401:
        message = f"the API key is not valid ({code})"
    elif code == Reason.MODEL_NOT_ALLOWED:
        allowed = ", ".join(record.models) if record is not None and record.models else "none"
        message = f"this API key may not use {model!r} (its models: {allowed})"
    elif code == Reason.RPC_UNAVAILABLE:
        message = "the chain could not be read; try again"
    else:
        message = f"refused: {code}"
    return openai_error(code, message, headers=headers)
