"""The inference gateway with the official `openai` client in front of a test upstream that
speaks OpenAI's wire format: the settled debit is the price of the upstream's reported usage to
the micro-USD (non-streaming, streaming, a client leaving after 3 chunks, the upstream failing),
refusals raise the client's matching exceptions, and the balance headers are right.

Over 500 lines on purpose: every case runs through one rig (upstream, ledger, keys, client)
built once here; split, each file would rebuild it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import venice_sdk.gateway.app as gateway_app
from tests.support.fake_gate import ALICE, BOB, PRICES, FakeEntitlements, make_gate
from tests.support.fake_upstream import (
    BIG_ANSWER,
    COMPLETION_TOKENS,
    FLOOD_TOKENS,
    PROMPT_TOKENS,
    STREAM_TOKENS,
    FakeUpstream,
    serving,
)
from tests.support.sdk import until_closed
from venice_ops.bench.redis import free_port
from venice_sdk.auth import KeyStore, KeyStoreUnavailable, RedisKeyStore
from venice_sdk.gateway import GatewayConfig, create_gateway
from venice_sdk.gateway.app import _read_body, usd
from venice_sdk.gateway.estimate import PROMPT_OVERHEAD
from venice_sdk.gateway.meter import RedisMeter
from venice_sdk.gateway.stream import Usage, answer_usage, usage_of
from venice_sdk.ledger import HOLD_TTL, CreditLedger, RedisLedger, month_period
from venice_sdk.ratelimit import (
    Limits,
    LocalRateLimiter,
    RateLimiter,
    RateLimitPolicy,
    RedisRateLimiter,
)
from venice_sdk.usage import RedisUsageStore, SQLiteUsageStore, UsageStore

openai = pytest.importorskip("openai")

CREDIT = 10_000_000  # ALICE's $10 a day


def tiny(prompt: int, completion: int) -> int:
    """The price of "tiny": 1 micro-USD per input token, 3 per output token."""
    return prompt + 3 * completion


class Rig:
    def __init__(
        self, ledger: CreditLedger, keys: KeyStore, client: FakeEntitlements,
        upstream: FakeUpstream, url: str,
    ) -> None:  # fmt: skip
        self.ledger, self.keys, self.entitlements = ledger, keys, client
        self.upstream, self.url = upstream, url
        self.key = keys.issue(ALICE, True).key
        self.meter: Any = None
        self.preparer: Any = None  # the gateway's `Preparer` (its process for large bodies)
        self.in_flight: dict[str, int] = {}  # the gateway's requests in flight per wallet
        self.uploads: dict[str, Any] = {}  # its bodies being read (or waiting) per wallet
        self.leases: dict[str, Any] = {}  # its holds renewed: request id -> (hold, renewed at)

    def client(self, key: str | None = None) -> Any:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key or self.key, max_retries=0)

    def idle(self, timeout: float = 5.0) -> None:
        """Wait until the gateway has no request in flight (each counted per wallet)."""
        deadline = time.monotonic() + timeout
        while self.in_flight:
            assert time.monotonic() < deadline, f"requests left in flight: {self.in_flight}"
            time.sleep(0.02)

    def settled(self, timeout: float = 5.0) -> None:
        """Wait until no hold is left (a stream settles after its response ended)."""
        deadline = time.monotonic() + timeout
        while self.ledger.held(ALICE):
            assert time.monotonic() < deadline, "the request was never settled or released"
            time.sleep(0.02)


@pytest.fixture
def make_rig(ledger: CreditLedger, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Gateways over ``ledger`` in front of one test upstream, each on its own port."""
    upstream = FakeUpstream()
    with contextlib.ExitStack() as stack:
        upstream_url = stack.enter_context(serving(upstream.app))

        def make(
            continuous_usage: bool = False,
            upstream_url_: str | None = None,
            limits: Limits | None = None,
            prices_path: Path | None = None,
            usage: UsageStore | None = None,
            max_answer_bytes: int = GatewayConfig.max_answer_bytes,
            http: str = "auto",
            stall_timeout: float = GatewayConfig.stall_timeout,
            max_body_bytes: int = GatewayConfig.max_body_bytes,
            body_timeout: float = GatewayConfig.body_timeout,
            max_parallel: int = GatewayConfig.max_parallel,
            max_uploads: int = GatewayConfig.max_uploads,
            bob: int = 100,
        ) -> Rig:
            gate, keys, client = make_gate(ledger, tmp_path, {ALICE: CREDIT, BOB: bob})
            if isinstance(ledger, RedisLedger):  # the keys on it too, as `--redis-url` has them
                gate.keys = keys = RedisKeyStore(ledger.client, clock=ledger.clock)
            config = GatewayConfig(
                upstream=upstream_url_ or upstream_url,
                continuous_usage=continuous_usage,
                default_max_tokens=1_000,
                prices_path=str(prices_path) if prices_path else None,
                reload_every=0.05,
                max_answer_bytes=max_answer_bytes,
                stall_timeout=stall_timeout,
                max_body_bytes=max_body_bytes,
                body_timeout=body_timeout,
                max_parallel=max_parallel,
                max_uploads=max_uploads,
            )
            limiter = _limiter(ledger) if limits is not None else None
            policy = RateLimitPolicy(limits) if limits is not None else None
            app = create_gateway(gate, config, limiter, policy, usage)
            url = stack.enter_context(serving(app, http))
            rig = Rig(ledger, keys, client, upstream, url)
            rig.meter = app.state.meter
            rig.preparer = app.state.preparer
            rig.in_flight = app.state.in_flight.counts
            rig.uploads = app.state.uploads.turns
            rig.leases = app.state.leases
            return rig

        yield make


def _limiter(ledger: CreditLedger) -> RateLimiter:
    """Rate limits where the ledger is: on its Redis (the gateway then meters on its event
    loop, `RedisMeter`), else in this process."""
    if isinstance(ledger, RedisLedger):
        return RedisRateLimiter(ledger.client, clock=ledger.clock)
    return LocalRateLimiter(clock=ledger.clock)


def test_non_streaming_settles_at_the_reported_usage(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    raw = rig.client().chat.completions.with_raw_response.create(
        model="tiny", messages=[{"role": "user", "content": "normal"}]
    )
    reply = raw.parse()
    # On Redis the request was metered on the gateway's event loop, else in worker threads.
    assert isinstance(rig.meter, RedisMeter) == isinstance(rig.ledger, RedisLedger)
    assert reply.usage.prompt_tokens == PROMPT_TOKENS
    cost = tiny(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert rig.ledger.spent(ALICE) == cost and rig.ledger.held(ALICE) == 0
    assert raw.headers["x-venice-balance-usd"] == usd(CREDIT - cost)
    assert raw.headers["x-venice-balance-diem"] == usd(CREDIT - cost)
    assert raw.headers["x-venice-request-id"].startswith("gw-")
    # The request set no output limit: the gateway held its default and told the upstream.
    assert rig.upstream.bodies[-1]["max_tokens"] == 1_000


def test_completions_and_embeddings(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    rig.client().completions.create(model="tiny", prompt="normal", max_tokens=50)
    assert rig.ledger.spent(ALICE) == tiny(11, 2)
    assert rig.upstream.bodies[-1]["max_tokens"] == 50
    rig.client().embeddings.create(model="tiny", input="some text")
    assert rig.ledger.spent(ALICE) == tiny(11, 2) + tiny(9, 0)
    assert rig.ledger.held(ALICE) == 0


def test_a_large_body_is_read_in_the_workers_own_process_and_billed_the_same(
    make_rig: Callable[..., Rig],
) -> None:
    """A body over ``inline_body_bytes`` is parsed, bounded and written again in a process of
    the worker's own (its event loop is not held up): the upstream gets it whole, with the
    limit held and usage asked for, and the request is billed at its reported usage."""
    rig = make_rig()
    system = "x" * 100_000  # (over the 64 KiB read on the worker's loop)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "normal"}]
    stream = rig.client().chat.completions.create(
        model="tiny",
        messages=messages,
        stream=True,
        max_tokens=40,  # type: ignore[arg-type]
    )
    assert sum(1 for c in stream if c.choices) == STREAM_TOKENS
    rig.settled()
    assert rig.preparer._pool is not None  # the process read it
    sent = rig.upstream.bodies[-1]
    assert sent["messages"][0]["content"] == system and sent["max_tokens"] == 40
    assert sent["stream_options"] == {"include_usage": True}
    assert rig.ledger.spent(ALICE) == tiny(PROMPT_TOKENS, STREAM_TOKENS)
    assert rig.ledger.held(ALICE) == 0


def test_streaming_settles_at_the_usage_chunk(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    stream = rig.client().chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "normal"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "".join(f"t{i} " for i in range(1, STREAM_TOKENS + 1))
    rig.settled()
    assert rig.ledger.spent(ALICE) == tiny(PROMPT_TOKENS, STREAM_TOKENS)
    assert rig.upstream.bodies[-1]["stream_options"] == {"include_usage": True}


def test_a_client_leaving_after_3_chunks_cancels_the_upstream_and_pays_for_3(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(continuous_usage=True)
    stream = rig.client().chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hang-after-3"}], stream=True
    )
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if len(chunks) == 3:
            break
    stream.close()
    rig.settled()
    assert rig.ledger.spent(ALICE) == tiny(PROMPT_TOKENS, 3)
    assert rig.upstream.cancelled.wait(5), "the upstream request was not cancelled"


def test_an_upstream_failing_mid_stream_is_paid_for_what_was_streamed(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(continuous_usage=True)
    stream = rig.client().chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "fail-mid"}], stream=True
    )
    got = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            got.append(chunk)
    assert len(got) == 3
    rig.settled()
    assert rig.ledger.spent(ALICE) == tiny(PROMPT_TOKENS, 3)


def test_an_upstream_failing_before_any_output_releases_the_hold(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    stream = rig.client().chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "fail-before"}], stream=True
    )
    with pytest.raises(openai.APIError):
        list(stream)
    rig.settled()
    with pytest.raises(openai.InternalServerError) as failed:
        rig.client().chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "error-500"}]
        )
    assert failed.value.status_code == 503
    assert failed.value.body["code"] == "upstream_unavailable"
    assert rig.ledger.spent(ALICE) == 0 and rig.ledger.held(ALICE) == 0


def test_an_unreachable_upstream_is_a_503_and_charges_nothing(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(upstream_url_=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(openai.InternalServerError) as down:
        rig.client().chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "normal"}]
        )
    assert down.value.status_code == 503
    assert rig.ledger.spent(ALICE) == 0 and rig.ledger.held(ALICE) == 0


def test_healthz_answers_and_readyz_checks_node_ledger_keys_and_upstream(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load balancer's probes: /healthz touches nothing; /readyz is 200 when the node, the
    ledger, the key store and the upstream answer (an upstream without /v1/models, a 404, is
    up) and 503 naming what does not, with a code and no reason (anyone may ask: the reason
    goes to the log). Before, both were 404s: a balancer could not tell a worker whose node or
    upstream was down. The checks run at most once in READINESS_EVERY (here 0: every time)."""
    monkeypatch.setattr(gateway_app, "READINESS_EVERY", 0.0)
    rig = make_rig()
    health = httpx.get(rig.url + "/healthz")
    assert health.status_code == 200 and health.json() == {"ok": True}
    ready = httpx.get(rig.url + "/readyz")
    assert ready.status_code == 200, ready.text
    everything = {"node", "ledger", "keys", "upstream"}
    assert ready.json() == {"ready": True, "checks": {n: {"ok": True} for n in everything}}
    rig.entitlements.down = True
    ready = httpx.get(rig.url + "/readyz")
    assert ready.status_code == 503 and not ready.json()["ready"]
    assert ready.json()["checks"]["node"] == {"ok": False, "code": "rpc_unavailable"}
    assert ready.json()["checks"]["ledger"] == {"ok": True}
    rig.entitlements.down = False
    assert httpx.get(rig.url + "/readyz").status_code == 200

    no_upstream = make_rig(upstream_url_=f"http://127.0.0.1:{free_port()}")
    ready = httpx.get(no_upstream.url + "/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["upstream"] == {"ok": False, "code": "upstream_unavailable"}
    assert all(checks[n]["ok"] for n in everything - {"upstream"})


def test_readyz_asked_by_many_runs_its_checks_once_a_second(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone may ask /readyz, and its checks cost a chain read, a Redis write and an upstream
    request: 60 callers at once, then 60 one after another, within READINESS_EVERY make one
    check, and all get its answer (a flood of probes is not a flood on the node)."""
    monkeypatch.setattr(gateway_app, "READINESS_EVERY", 60.0)
    rig = make_rig()

    async def ask_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=rig.url, timeout=10) as c:
            return list(await asyncio.gather(*(c.get("/readyz") for _ in range(60))))

    answers = asyncio.run(ask_at_once())
    answers += [httpx.get(rig.url + "/readyz") for _ in range(60)]
    assert {a.status_code for a in answers} == {200}
    assert rig.entitlements.probes == 1


def test_an_answer_over_max_answer_bytes_is_a_503_and_charges_nothing(
    make_rig: Callable[..., Rig],
) -> None:
    """An upstream answer larger than the gateway reads whole fails the request (the hold
    released) rather than filling the gateway's memory."""
    rig = make_rig(max_answer_bytes=64)
    with pytest.raises(openai.InternalServerError) as big:
        rig.client().chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "normal"}]
        )
    assert big.value.status_code == 503 and "over 64 bytes" in big.value.body["message"]
    rig.settled()
    assert rig.ledger.spent(ALICE) == 0


def _post(key: str, body: bytes, length: int | None = None) -> bytes:
    """A chat completion request's bytes (HTTP/1.1, kept alive); ``length``: the
    Content-Length it announces, if not the body's."""
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s"
        % (key.encode(), len(body) if length is None else length, body)
    )


#: A streamed completion of `FLOOD_TOKENS` chunks of about 1 KB, as fast as the upstream can.
FLOOD = json.dumps({"model": "tiny", "stream": True, "max_tokens": FLOOD_TOKENS,
                    "messages": [{"role": "user", "content": "flood"}]}).encode()  # fmt: skip
#: A completion of about 4 MB.
BIG = json.dumps({"model": "tiny", "messages": [{"role": "user", "content": "big"}]}).encode()


def _slow_client(url: str, request: bytes, timeout: float = 30) -> socket.socket:
    """A client with a small receive buffer (a slow network) that has sent ``request``."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
    sock.settimeout(timeout)
    sock.connect((host, int(port)))
    sock.sendall(request)
    return sock


def _slow_stream(url: str, key: str) -> list[bytes]:
    """A streamed completion in "flood" mode read by a client with a small socket buffer
    that reads slower than the upstream sends: the body's events, de-chunked."""
    sock = _slow_client(url, _post(key, FLOOD))
    raw = b""
    while not raw.endswith(b"\r\n0\r\n\r\n"):
        data = sock.recv(16_384)
        assert data, "the gateway closed the stream early"
        raw += data
        time.sleep(0.005)
    sock.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    text = b""
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        text, rest = text + rest[:size], rest[size + 2 :]
    return text.split(b"\n\n")[:-1]


def _small_send_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow network: the gateway's sockets to its clients get small kernel buffers."""
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    for protocol in (HttpToolsProtocol, H11Protocol):
        made = protocol.connection_made

        def small(self: Any, transport: Any, made: Any = made) -> None:
            made(self, transport)
            transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 16_384
            )

        monkeypatch.setattr(protocol, "connection_made", small)


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_client_reading_slower_than_the_upstream_gets_every_chunk_in_order(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, http: str
) -> None:
    """3 MB streamed as fast as the upstream can, to a client reading slowly: every event
    arrives once and in order, and the stream settles at its usage. Behind uvicorn's httptools
    protocol the gateway writes the body from the upstream's callback and stops reading the
    upstream while the client's socket is full; behind any other server, through ASGI. A client
    that keeps reading is never taken for a stalled one, however often its socket fills."""
    from venice_sdk.gateway.upstream import UpstreamResponse

    _small_send_buffers(monkeypatch)
    holds: list[int] = []
    relays: list[int] = []
    hold, relay = UpstreamResponse.hold, UpstreamResponse.relay
    monkeypatch.setattr(UpstreamResponse, "hold", lambda r: (holds.append(1), hold(r))[1])
    monkeypatch.setattr(UpstreamResponse, "relay", lambda *a: (relays.append(1), relay(*a))[1])
    rig = make_rig(http=http, stall_timeout=2.0)
    events = _slow_stream(rig.url, rig.key)
    start = len(b'data: {"choices": [{"index": 0, "delta": {"content": "')
    numbers = [event[start : start + 5] for event in events[:FLOOD_TOKENS]]
    assert numbers == [b"%05d" % i for i in range(1, FLOOD_TOKENS + 1)]
    assert b'"usage"' in events[FLOOD_TOKENS] and events[FLOOD_TOKENS + 1] == b"data: [DONE]"
    assert len(events) == FLOOD_TOKENS + 2
    rig.settled()
    assert rig.ledger.spent(ALICE) == tiny(PROMPT_TOKENS, FLOOD_TOKENS)
    if http == "httptools":
        assert relays and holds  # relayed from the callback, and paused at least once
    else:
        assert not relays


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_client_that_stops_reading_is_dropped_after_the_stall_timeout_and_billed_what_streamed(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, http: str
) -> None:
    """A client that asks for a stream and reads nothing: once its socket has been full for
    ``stall_timeout`` seconds the gateway ends the stream (the upstream request closed, the
    hold settled at the input's bound plus one token per event streamed) and drops the client,
    which never sees the stream's end. Before, it kept the stream and its hold for ever."""
    _small_send_buffers(monkeypatch)
    rig = make_rig(http=http, stall_timeout=0.5)
    with _slow_client(rig.url, _post(rig.key, FLOOD)) as sock:
        started = time.monotonic()
        while not rig.ledger.held(ALICE):  # the stream's hold taken
            assert time.monotonic() - started < 10
            time.sleep(0.01)
        rig.settled()  # nothing read meanwhile
        assert time.monotonic() - started < 15
        spent = rig.ledger.spent(ALICE)
        raw = b""
        with contextlib.suppress(ConnectionResetError):
            while data := sock.recv(65_536):
                raw += data
    assert raw.startswith(b"HTTP/1.1 200") and not raw.endswith(b"\r\n0\r\n\r\n")
    events, odd = divmod(spent - tiny(len(FLOOD) + PROMPT_OVERHEAD, 0), 3)
    assert odd == 0
    # Every event written before the drop is billed: those the client got whole, and those
    # dropped or cut in the buffers; not the ones the upstream never got to send.
    assert raw.count(b"\n\n") <= events < FLOOD_TOKENS


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_client_that_reads_none_of_a_big_answer_is_dropped_after_the_stall_timeout(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, http: str
) -> None:
    """A 4 MB answer to a client that reads nothing: the request is settled as usual, and
    once the answer has sat unread for ``stall_timeout`` seconds the gateway drops the client
    (before, the answer stayed in its memory as long as the connection lived)."""
    _small_send_buffers(monkeypatch)
    rig = make_rig(http=http, stall_timeout=0.5)
    with _slow_client(rig.url, _post(rig.key, BIG)) as sock:
        deadline = time.monotonic() + 30
        while not rig.ledger.spent(ALICE):  # settled: the answer is being sent
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(2.5)  # reads nothing
        raw = b""
        with contextlib.suppress(ConnectionResetError):
            while data := sock.recv(65_536):
                raw += data
    head, _, answer = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    assert length > BIG_ANSWER and 0 < len(answer) < length  # cut off, not all sent
    assert rig.ledger.spent(ALICE) == tiny(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert rig.ledger.held(ALICE) == 0


def test_a_stream_whose_client_stops_reading_at_its_end_is_still_settled() -> None:
    """The stream's last message, sent when the client's socket is full, is given up after
    ``stall_timeout`` too (a server waits for the socket to drain before each write): the
    stream is settled at once, where before it waited for ever with its hold."""
    import anyio

    from venice_sdk.gateway.stream import MeteredStream

    class Answer:  # an upstream answer of one chunk, then its end
        async def iter_any(self) -> Any:
            yield b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'

        def close(self) -> None:
            pass

        def scan(self) -> None:  # nothing relayed (the ASGI path)
            pass

    ends: list[tuple[str, int]] = []
    sent: list[dict[str, Any]] = []

    async def on_end(ending: str, scanner: Any, sent_any: bool) -> None:
        ends.append((ending, scanner.events))

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            await anyio.sleep_forever()  # the client's socket stays full
        sent.append(message)

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError

    async def run() -> None:
        with anyio.fail_after(10):
            stream = MeteredStream(Answer(), {}, on_end, stall_timeout=0.2)  # type: ignore[arg-type]
            await stream({"type": "http"}, receive, send)

    anyio.run(run)
    assert ends == [("complete", 1)] and len(sent) == 2


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_client_leaving_a_stream_with_a_request_pipelined_behind_it_ends_it(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, http: str
) -> None:
    """A client that sent a second request behind a stream on the same connection, then left
    mid-stream: uvicorn marks the request queued behind it disconnected, not the stream's; the
    relay sees the socket closing and ends the stream at once, settled (it held the upstream
    and waited for its timeout, 600 s, its hold kept meanwhile)."""
    rig = make_rig(http=http)
    errors = _server_errors(monkeypatch)
    stream = json.dumps({"model": "tiny", "stream": True,
                         "messages": [{"role": "user", "content": "normal"}]}).encode()  # fmt: skip
    after = json.dumps({"model": "tiny", "messages": [{"role": "user", "content": "normal"}]})
    host, port = rig.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(_post(rig.key, stream) + _post(rig.key, after.encode()))
        assert sock.recv(65_536).startswith(b"HTTP/1.1 200")  # the stream has begun
    rig.settled()
    assert rig.ledger.spent(ALICE) > 0
    time.sleep(0.5)  # (the server's log of the request follows its settling)
    assert errors == []


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_stalled_client_with_a_request_pipelined_behind_its_stream_is_dropped_quietly(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, http: str
) -> None:
    """A client that reads nothing of a stream, a second request pipelined behind it: dropped
    after ``stall_timeout``, the stream settled, the request behind it never run (nothing held),
    and no error in the server's log. Before, uvicorn (which marks only its newest request
    disconnected) logged "ASGI callable returned without completing response" for each."""
    _small_send_buffers(monkeypatch)
    rig = make_rig(http=http, stall_timeout=0.5)
    errors = _server_errors(monkeypatch)
    with _slow_client(rig.url, _post(rig.key, FLOOD) * 2) as sock:
        time.sleep(3)  # reads nothing
        with contextlib.suppress(ConnectionResetError):
            while sock.recv(65_536):
                pass
    rig.settled()
    time.sleep(0.5)
    assert len(rig.upstream.bodies) == 1 and rig.ledger.spent(ALICE) > 0
    assert errors == []


def _server_errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The errors uvicorn logs from now on (its logger does not pass them to pytest's; a
    server started later sets its handlers anew)."""
    import logging

    errors: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            errors.append(record.getMessage())

    logger = logging.getLogger("uvicorn.error")
    monkeypatch.setattr(logger, "handlers", [*logger.handlers, Keep(logging.ERROR)])
    return errors


def test_refusals_raise_the_clients_matching_exceptions(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    hello = [{"role": "user", "content": "normal"}]
    with pytest.raises(openai.AuthenticationError) as bad:
        rig.client("vvk_not-a-key").chat.completions.create(model="tiny", messages=hello)
    assert bad.value.body["code"] == "unknown_key"
    with pytest.raises(openai.AuthenticationError):
        rig.client("sk-something").chat.completions.create(model="tiny", messages=hello)
    revoked = rig.keys.issue(ALICE, True)
    rig.keys.revoke(revoked.key_id)
    with pytest.raises(openai.AuthenticationError) as gone:
        rig.client(revoked.key).chat.completions.create(model="tiny", messages=hello)
    assert gone.value.body["code"] == "key_revoked"

    poor = rig.keys.issue(BOB, True).key  # $0.0001 a day
    with pytest.raises(openai.APIStatusError) as broke:
        rig.client(poor).chat.completions.create(model="tiny", messages=hello)
    assert broke.value.status_code == 402
    assert broke.value.body["code"] == "insufficient_credit"
    assert "$0.000100 is left" in broke.value.body["message"]
    assert broke.value.response.headers["x-venice-balance-usd"] == "0.000100"

    with pytest.raises(openai.NotFoundError):
        rig.client().chat.completions.create(model="no-such-model", messages=hello)
    with pytest.raises(openai.BadRequestError):
        rig.client().chat.completions.create(model="tiny", messages=hello, max_tokens=-5)
    rig.entitlements.down = True
    with pytest.raises(openai.InternalServerError) as node:
        rig.client().chat.completions.create(model="tiny", messages=hello)
    assert node.value.status_code == 503 and node.value.body["code"] == "rpc_unavailable"
    assert rig.ledger.spent(ALICE) == 0 and rig.ledger.held(ALICE) == 0


def test_models_lists_the_price_book(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    assert {m.id for m in rig.client().models.list()} == {"tiny", "tiny-vl", "small", "painter"}
    with pytest.raises(openai.AuthenticationError):
        rig.client("vvk_nope").models.list()


def test_a_stream_cut_short_without_per_chunk_usage_pays_the_input_bound_and_its_chunks(
    make_rig: Callable[..., Rig],
) -> None:
    """An upstream that reports usage only at the end: a client that leaves after 3 chunks
    pays the prompt's upper bound (the body's bytes + 64) and one token per chunk streamed."""
    rig = make_rig()
    raw = json.dumps(
        {"model": "tiny", "messages": [{"role": "user", "content": "hang-after-3"}],
         "stream": True, "max_tokens": 100}
    ).encode()  # fmt: skip
    headers = {"authorization": f"Bearer {rig.key}", "content-type": "application/json"}
    events = 0
    with httpx.stream(
        "POST", rig.url + "/v1/chat/completions", content=raw, headers=headers, timeout=10
    ) as reply:
        assert reply.status_code == 200
        # The hold's worst case is already out of the balance while the stream runs.
        worst = tiny(len(raw) + PROMPT_OVERHEAD, 100)
        assert reply.headers["x-venice-balance-usd"] == usd(CREDIT - worst)
        for line in reply.iter_lines():
            if line.startswith("data: "):
                events += 1
                if events == 3:
                    break
    rig.settled()
    assert rig.ledger.spent(ALICE) == tiny(len(raw) + PROMPT_OVERHEAD, 3)
    assert rig.upstream.cancelled.wait(5)


@pytest.fixture
def python_recursion_limit() -> Iterator[None]:
    """The interpreter's default recursion limit, as in a gateway process (this test process
    runs with ape's 100,000, under which JSON nested 100,000 deep overflows the C stack of the
    thread serving the gateway instead of raising `RecursionError`)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.usefixtures("python_recursion_limit")
def test_malformed_requests_are_openai_shaped_400s(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    headers = {"authorization": f"Bearer {rig.key}"}
    url = rig.url + "/v1/chat/completions"
    for body, status in (
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"messages": []}', 400),
        (b'{"model": "tiny", "max_tokens": true}', 400),
        (b'{"model": "tiny", "n": 0}', 400),
        (b'{"model": "tiny", "stream": true, "stream_options": 3}', 400),
        (b'{"model": "nope"}', 404),
        (b"[" * 100_000, 400),  # deeper than the JSON parser recurses
    ):
        reply = httpx.post(url, content=body, headers=headers)
        assert reply.status_code == status, body
        error = reply.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
    missing = httpx.post(url, content=b'{"model": "tiny"}')
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    assert rig.ledger.spent(ALICE) == 0 and rig.ledger.held(ALICE) == 0


@pytest.mark.usefixtures("python_recursion_limit")
def test_an_answer_nested_too_deep_to_parse_is_charged_its_hold_not_left_held(
    make_rig: Callable[..., Rig],
) -> None:
    """An upstream answer the JSON parser cannot read (nested deeper than it recurses) is
    passed on and charged its hold, as an answer without usage is; no 500, nothing left held."""
    rig = make_rig()
    body = {"model": "tiny", "max_tokens": 10, "messages": [{"role": "user", "content": "deep"}]}
    reply = httpx.post(rig.url + "/v1/chat/completions", json=body,
                       headers={"authorization": f"Bearer {rig.key}"})  # fmt: skip
    assert reply.status_code == 200 and reply.content.startswith(b"[[[")
    rig.settled()
    assert rig.ledger.held(ALICE) == 0 and rig.ledger.spent(ALICE) > 0


def test_a_stream_that_outlives_its_hold_is_still_debited(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(continuous_usage=True)
    stream = rig.client().chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hang-after-3"}], stream=True
    )
    for i, _ in enumerate(stream, 1):
        if i == 3:
            break
    rig.ledger.clock.now += HOLD_TTL + 1  # type: ignore[attr-defined]
    assert rig.ledger.held(ALICE) == 0  # expired: the credit went back
    stream.close()
    deadline = time.monotonic() + 5
    while rig.ledger.spent(ALICE) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rig.ledger.spent(ALICE) == tiny(PROMPT_TOKENS, 3)


def test_a_stream_served_longer_than_a_hold_lives_keeps_its_holds_by_renewing_them(
    make_rig: Callable[..., Rig], ledger: CreditLedger
) -> None:
    """The worker renews the holds of its requests being served (every sixth of
    ``hold_ttl``, those held for a third of it): a stream that runs twice a hold's life keeps
    its hold and its key's, and settles on both. Before, its holds expired after
    ``hold_ttl``: the wallet was debited only if the day's credit still covered it, and the
    key's own budget not at all."""
    ledger.hold_ttl = 1.2  # (renewed every 0.2 s of real time, on the ledger's clock)
    rig = make_rig(continuous_usage=True)
    limited = rig.keys.issue(ALICE, True, daily_limit_micros=10_000)
    stream = rig.client(limited.key).chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hang-after-3"}], stream=True,
        max_tokens=100,
    )  # fmt: skip
    for i, _ in enumerate(stream, 1):
        if i == 3:
            break
    held = rig.ledger.held(ALICE)
    assert held > 0 and rig.ledger.held(limited.key_id) == held
    for _ in range(4):  # 2.4 s of the ledger's clock: twice the holds' life
        rig.ledger.clock.now += 0.6  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while [at for _, at in rig.leases.values()] != [rig.ledger.clock.now]:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, rig.leases  # (renewed every 0.2 s)
            time.sleep(0.02)
        assert rig.ledger.held(ALICE) == held and rig.ledger.held(limited.key_id) == held
    stream.close()
    rig.settled()
    deadline = time.monotonic() + 5  # (the key's hold is settled just after the wallet's)
    while rig.ledger.held(limited.key_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    cost = tiny(PROMPT_TOKENS, 3)
    assert rig.ledger.spent(ALICE) == cost and rig.ledger.spent(limited.key_id) == cost


def test_an_image_model_on_a_text_route_is_refused(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    with pytest.raises(openai.BadRequestError):
        rig.client().chat.completions.create(
            model="painter", messages=[{"role": "user", "content": "normal"}]
        )


def test_a_key_with_its_own_limit_is_held_and_settled_on_it_too(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    limited = rig.keys.issue(ALICE, True, daily_limit_micros=3_000)
    hello = [{"role": "user", "content": "normal"}]
    rig.client(limited.key).chat.completions.create(model="tiny", messages=hello, max_tokens=10)
    cost = tiny(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert rig.ledger.spent(limited.key_id) == cost and rig.ledger.spent(ALICE) == cost
    assert rig.ledger.held(limited.key_id) == 0 and rig.ledger.held(ALICE) == 0
    # Its worst case (1,000 default output tokens at 3 each) is more than the key's limit.
    with pytest.raises(openai.APIStatusError) as capped:
        rig.client(limited.key).chat.completions.create(model="tiny", messages=hello)
    assert capped.value.status_code == 402 and capped.value.body["code"] == "key_limit_reached"


@pytest.mark.parametrize("budget", ["daily", "monthly"])
def test_the_balance_of_a_key_with_a_budget_is_its_budget_left(
    make_rig: Callable[..., Rig], budget: str
) -> None:
    """An answer read whole said the wallet's credit left, a stream's (after its hold) the
    key's budget left: a holder of a $0.003 key was told $5 was left once its answer came."""
    rig = make_rig()
    limited = rig.keys.issue(ALICE, True, **{f"{budget}_limit_micros": 3_000})  # type: ignore[arg-type]
    hello = [{"role": "user", "content": "normal"}]
    raw = rig.client(limited.key).chat.completions.with_raw_response.create(
        model="tiny", messages=hello, max_tokens=10
    )
    cost = tiny(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert raw.headers["x-venice-balance-usd"] == usd(3_000 - cost)
    assert raw.headers["x-venice-balance-diem"] == usd(3_000 - cost)


def test_images_are_held_per_image_asked_and_settled_per_image_made(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    images = rig.client().images.generate(model="painter", prompt="a cat", n=3)
    assert len(images.data) == 2
    assert rig.ledger.spent(ALICE) == 2 * 20_000  # "painter" is $0.02 an image
    assert rig.ledger.held(ALICE) == 0
    with pytest.raises(openai.BadRequestError):
        rig.client().images.generate(model="tiny", prompt="a cat")


def test_rate_limits_answer_429_with_retry_after_and_headers(
    make_rig: Callable[..., Rig],
) -> None:
    # Each request uses 17 + 5 = 22 tokens: the third passes the tokens per minute.
    rig = make_rig(limits=Limits(requests_per_minute=5, tokens_per_minute=30))
    hello = [{"role": "user", "content": "normal"}]
    raw = rig.client().chat.completions.with_raw_response.create(model="tiny", messages=hello)
    assert raw.headers["x-ratelimit-limit-requests"] == "5"
    assert raw.headers["x-ratelimit-remaining-requests"] == "4"
    assert raw.headers["x-ratelimit-remaining-tokens"] == "30"  # as admitted, before its usage
    assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    rig.client().chat.completions.create(model="tiny", messages=hello)
    with pytest.raises(openai.RateLimitError) as limited:
        rig.client().chat.completions.create(model="tiny", messages=hello)
    assert limited.value.status_code == 429
    assert limited.value.body["code"] == "rate_limited" and "(tokens)" in limited.value.message
    assert int(limited.value.response.headers["retry-after"]) >= 1
    assert limited.value.response.headers["x-ratelimit-remaining-tokens"] == "0"
    # A refused request is neither held nor charged.
    assert rig.ledger.spent(ALICE) == 2 * tiny(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert rig.ledger.held(ALICE) == 0
    rig.ledger.clock.now += 60  # type: ignore[attr-defined]
    rig.client().chat.completions.create(model="tiny", messages=hello)


def test_a_price_book_change_applies_to_new_requests_only(
    make_rig: Callable[..., Rig], tmp_path: Path
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(PRICES))
    rig = make_rig(continuous_usage=True, prices_path=path)
    hello = [{"role": "user", "content": "normal"}]
    # A stream starts at the old prices ...
    stream = rig.client().chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hang-after-3"}], stream=True
    )
    for i, _ in enumerate(stream, 1):
        if i == 3:
            break
    # ... the operator doubles "tiny"'s prices ...
    doubled = json.loads(json.dumps(PRICES))
    doubled["models"]["tiny"] = {"input_per_million": "2", "output_per_million": "6"}
    path.write_text(json.dumps(doubled))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    deadline = time.monotonic() + 5
    one = tiny(PROMPT_TOKENS, COMPLETION_TOKENS)
    while True:
        spent = rig.ledger.spent(ALICE)
        rig.client().chat.completions.create(model="tiny", messages=hello)
        if rig.ledger.spent(ALICE) - spent == 2 * one:  # the doubled price: the reload is in
            break
        assert rig.ledger.spent(ALICE) - spent == one
        assert time.monotonic() < deadline, "the price book was not reloaded"
        time.sleep(0.05)
    before = rig.ledger.spent(ALICE)
    stream.close()
    rig.settled()
    # ... and the stream is still settled at the prices it started with.
    assert rig.ledger.spent(ALICE) - before == tiny(PROMPT_TOKENS, 3)
    # A broken file is logged and the prices in use stay.
    path.write_text("models: [")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
    time.sleep(0.3)
    spent = rig.ledger.spent(ALICE)
    rig.client().chat.completions.create(model="tiny", messages=hello)
    assert rig.ledger.spent(ALICE) - spent == 2 * one


def test_usage_records_one_per_request_by_wallet_and_key(
    make_rig: Callable[..., Rig], ledger: CreditLedger, tmp_path: Path
) -> None:
    store: UsageStore = SQLiteUsageStore(tmp_path / "usage.sqlite3")
    if isinstance(ledger, RedisLedger):  # beside the ledger: the event loop's path
        store = RedisUsageStore(ledger.client)
    rig = make_rig(continuous_usage=True, usage=store)
    other = rig.keys.issue(ALICE, True)
    hello = [{"role": "user", "content": "normal"}]
    rig.client().chat.completions.create(model="tiny", messages=hello)
    stream = rig.client(other.key).chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hang-after-3"}], stream=True
    )
    for i, _ in enumerate(stream, 1):
        if i == 3:
            break
    stream.close()
    rig.settled()
    failed = rig.client().chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "fail-before"}], stream=True
    )
    with pytest.raises(openai.APIError):
        list(failed)
    rig.settled()
    auth = {"authorization": f"Bearer {rig.key}"}
    deadline = time.monotonic() + 5
    while len(store.query(wallet=ALICE.lower()).records) < 3:
        assert time.monotonic() < deadline, "usage not recorded"
        time.sleep(0.02)
    data = httpx.get(rig.url + "/v1/usage", headers=auth).json()["data"]
    assert [(r["outcome"], r["cost"], r["output_tokens"]) for r in data] == [
        ("complete", tiny(PROMPT_TOKENS, COMPLETION_TOKENS), COMPLETION_TOKENS),
        ("disconnected", tiny(PROMPT_TOKENS, 3), 3),
        ("released", 0, 0),
    ]
    assert all(r["wallet"] == ALICE.lower() and r["hold"] > 0 for r in data)
    assert data[1]["key_id"] == other.key_id
    mine = httpx.get(rig.url + "/v1/usage", headers=auth, params={"scope": "key"}).json()
    assert [r["outcome"] for r in mine["data"]] == ["complete", "released"]
    paged = httpx.get(rig.url + "/v1/usage", headers=auth, params={"limit": 2})
    assert len(paged.json()["data"]) == 2 and paged.json()["next_cursor"] is not None
    as_csv = httpx.get(rig.url + "/v1/usage", headers=auth, params={"format": "csv", "limit": 2})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0].startswith("request_id,key_id,wallet")
    assert as_csv.headers["x-next-cursor"] == str(paged.json()["next_cursor"])
    daily = httpx.get(rig.url + "/v1/usage/daily", headers=auth).json()["data"]
    assert sum(d["cost"] for d in daily) == rig.ledger.spent(ALICE)
    assert sum(d["requests"] for d in daily) == 3
    # A mistaken query is a 400 that says which parameter and what it must be (a bad number
    # was Python's "invalid literal for int() with base 10").
    for params, says in (
        ({"day": "yesterday"}, "day must be YYYY-MM-DD or an epoch day, not 'yesterday'"),
        ({"day": "²"}, "day must be YYYY-MM-DD"),
        ({"limit": "abc"}, "limit must be a non-negative integer, not 'abc'"),
        ({"limit": "0"}, "limit must be between 1 and"),
        ({"cursor": "-1"}, "cursor must be a non-negative integer, not '-1'"),
        ({"cursor": "9" * 40}, "cursor must be a non-negative integer"),
        ({"format": "xml"}, "format must be json or csv, not 'xml'"),
        ({"scope": "all"}, "scope must be 'wallet' or 'key'"),
    ):
        bad = httpx.get(rig.url + "/v1/usage", headers=auth, params=params)
        assert bad.status_code == 400 and says in bad.json()["error"]["message"], bad.text
    # Past any store's integers: a 400, not a 500 with a traceback (SQLite's OverflowError).
    for path, field in (("/v1/usage", "cursor"), ("/v1/usage", "day"), ("/v1/usage/daily", "day")):
        huge = httpx.get(rig.url + path, headers=auth, params={field: "9" * 20})
        assert huge.status_code == 400 and huge.json()["error"]["code"] == "bad_request"
    assert httpx.get(rig.url + "/v1/usage").status_code == 401


def test_key_lifecycle_refusals_are_openai_shaped(make_rig: Callable[..., Rig]) -> None:
    """An expired key is a 401, a model outside the key's allowlist a 403, a spent monthly
    budget a 402; none of them holds or charges anything, on the wallet or on the key."""
    rig = make_rig()
    hello = [{"role": "user", "content": "normal"}]
    expired = rig.keys.issue(ALICE, True, expires_at=rig.ledger.clock() - 1)
    with pytest.raises(openai.AuthenticationError) as late:
        rig.client(expired.key).chat.completions.create(model="tiny", messages=hello)
    assert late.value.body["code"] == "key_expired"
    only_small = rig.keys.issue(ALICE, True, models=["small"])
    with pytest.raises(openai.PermissionDeniedError) as denied:
        rig.client(only_small.key).chat.completions.create(model="tiny", messages=hello)
    assert denied.value.status_code == 403 and denied.value.body["code"] == "model_not_allowed"
    # (it said "refused: model_not_allowed": which model, and which it may use?)
    assert denied.value.body["message"] == "this API key may not use 'tiny' (its models: small)"
    monthly = rig.keys.issue(ALICE, True, monthly_limit_micros=2_000)
    with pytest.raises(openai.APIStatusError) as spent:  # its worst case is over 3,000
        rig.client(monthly.key).chat.completions.create(model="tiny", messages=hello)
    assert spent.value.status_code == 402
    assert spent.value.body["code"] == "key_monthly_limit_reached"
    assert "left this month" in spent.value.body["message"]
    assert rig.ledger.spent(ALICE) == 0 and rig.ledger.held(ALICE) == 0
    assert rig.ledger.held(monthly.key_id) == 0
    # raised in place, the same key is served and its month charged the actual cost
    rig.keys.set_budgets(monthly.key_id, None, 10_000)
    rig.client(monthly.key).chat.completions.create(model="tiny", messages=hello)
    rig.settled()
    cost = tiny(PROMPT_TOKENS, COMPLETION_TOKENS)
    month = month_period(float(rig.ledger.clock()))
    assert rig.ledger.spent(monthly.key_id, month) == cost == rig.ledger.spent(ALICE)


def test_a_big_answer_is_not_parsed_whole_for_its_usage(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer read whole was parsed whole on the event loop for its usage: the 41 MB of an
    embeddings request of 2,048 one-word inputs (a fraction of a cent) took 0.7 s, every stream
    of the worker stalled meanwhile. Its usage is now read from its end."""
    rig = make_rig()
    parsed: list[int] = []
    loads = json.loads

    def spy(text: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():  # the servers' threads
            parsed.append(len(text))
        return loads(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", spy)
    answer = httpx.post(
        rig.url + "/v1/embeddings",
        headers={"authorization": f"Bearer {rig.key}"},
        json={"model": "tiny", "input": "many-floats"},
        timeout=30,
    )
    assert answer.status_code == 200 and len(answer.content) > 5_000_000
    assert parsed and max(parsed) < 10_000, parsed
    rig.settled()
    assert rig.ledger.spent(ALICE) == tiny(20, 0)


@pytest.mark.parametrize(
    "answer",
    [
        # vLLM's chat answer: members after the usage
        '{"id": "c", "choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 3,'
        ' "completion_tokens": 2}, "prompt_logprobs": null, "kv_transfer_params": null}',
        '{"data": [], "usage": {"prompt_tokens": 9, "total_tokens": 9}}\n',
        # the usage first, or only inside the output (its quotes escaped), or nested too
        '{"usage": {"prompt_tokens": 4, "completion_tokens": 1}, "choices": [{"text": "x"}]}',
        '{"choices": [{"text": "\\"usage\\": {\\"prompt_tokens\\": 0}"}], "usage": '
        '{"prompt_tokens": 5, "completion_tokens": 6}}',
        '{"choices": [{"text": "a \\"usage\\": {\\"prompt_tokens\\": 0}}"}]}',
        '{"usage": {"prompt_tokens": 7}, "data": [{"usage": {"prompt_tokens": 1}}]}',
        '{"usage": {"prompt_tokens": 7}, "data": {"usage": {"prompt_tokens": 1}, "k": 2}}',
        '{"data": {"usage": {"prompt_tokens": 1}}, "n": 1}',
        '{"x": "usage", "usage": {"prompt_tokens": 8}, "y": "usage"}',
        '{"usage": {"prompt_tokens": 2}, "usage": {"prompt_tokens": -1}}',  # (last wins)
        '{"usage": {"prompt_tokens": 2}, "u": 1',  # not JSON: no usage
        '{"a": "\\\\", "usage": {"prompt_tokens": 3}}',  # a string ending in a backslash
        '["usage", {"usage": {"prompt_tokens": 1}}]',
        '{"usage": {"prompt_tokens": 1}}}',
        "",
    ],
)
def test_the_usage_of_an_answer_read_from_its_end_is_the_full_parses(answer: str) -> None:
    try:
        expected = usage_of(json.loads(answer))
    except ValueError:
        expected = None
    assert answer_usage(answer.encode()) == expected


def test_the_usage_read_from_an_answers_end_is_its_last_literal_member() -> None:
    """Where `answer_usage` and a full parse differ, found by review, and why it stands: it
    reads the last top-level ``"usage"`` member as written, so an answer that is not JSON
    before it is charged that usage (a full parse finds none and charges the hold, the worst
    case), and a later duplicate member whose name is escaped (``"us\\u0061ge"``, which
    json.loads keeps) is not seen. Both are answers only a broken or hostile upstream sends,
    the operator's own: a client cannot put an unescaped quote into a server's JSON. A space
    JSON does not allow (``\\x1c``, which Python's strip takes) is no space to it either."""
    usage = '"usage": {"prompt_tokens": 3, "completion_tokens": 4}'
    assert answer_usage(b'{"choices": [1, 2, ], %s}' % usage.encode()) == Usage(3, 4)
    escaped = "{" + usage + ', "us\\u0061ge": {"prompt_tokens": 5000, "completion_tokens": 9000}}'
    assert usage_of(json.loads(escaped)) == Usage(5000, 9000)
    assert answer_usage(escaped.encode()) == Usage(3, 4)
    assert answer_usage(b'{"usage"\x1c: {"prompt_tokens": 3, "completion_tokens": 4}}') is None


def test_the_sse_scanner_skips_an_event_without_end_in_bounded_memory() -> None:
    """An upstream event larger than `MAX_EVENT` (or a line that never ends) is not read: the
    scanner keeps a few bytes of it, counts it as output (a stream cut short pays for it) and
    reads the events after it."""
    from venice_sdk.gateway.stream import MAX_EVENT, SseScanner

    scanner = SseScanner()
    scanner.feed(b'data: {"choices": [{"delta": {"content": "')
    for _ in range(3 * MAX_EVENT // 65_536):
        scanner.feed(b"x" * 65_536)
        assert len(scanner._buffer) <= MAX_EVENT + 65_536
    scanner.feed(b'"}}]}\r')  # the end, split inside its separator
    scanner.feed(
        b'\n\r\ndata: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}'
    )
    scanner.feed(b"\n\ndata: [DONE]\n\n")
    assert scanner.events == 1 and scanner.done and scanner.final_usage == Usage(3, 1)


def test_the_sse_scanner_counts_output_and_reads_usage_however_the_bytes_split() -> None:
    from venice_sdk.gateway.stream import SseScanner

    events = [
        {"choices": [{"index": 0, "delta": {"content": "a"}}]},  # output, compact
        {"choices": [{"index": 0, "delta": {"content": '"choices": []'}}]},  # quotes in text
        {"choices": []},  # no output
        {"choices": None},
        {"choices": [{"delta": {}}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}},  # the last
    ]
    spaced = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    spaced = spaced.replace(b'"choices": [{"index"', b'"choices":[ {"index"', 1)
    # As servers send it: compact JSON (counted without the regular expression).
    compact = b"".join(b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n"
                       for e in events)  # fmt: skip
    for text in (spaced + b"data: [DONE]\n\n", compact + b"data: [DONE]\n\n"):
        whole = [event + b"\n\n" for event in text.split(b"\n\n")[:-1]]  # one read per event
        for reads in (
            *([text[at : at + step] for at in range(0, len(text), step)] for step in (1, 7)),
            [text], whole, [b"".join(whole[:2]), *whole[2:]],
        ):  # fmt: skip
            scanner = SseScanner()
            for read in reads:
                scanner.feed(read)
            assert scanner.events == 3 and scanner.done
            assert scanner.final_usage == Usage(5, 2) and scanner.usage == Usage(5, 2)


def test_the_sse_scanner_is_linear_in_the_bytes_fed_however_they_split() -> None:
    """4 MiB of an event without end in parts of 512 bytes, then 256 KiB of events with
    usage in one read: a few milliseconds of CPU (the buffer was copied and searched whole
    at each read: 6.5 s, then 80 ms, all of it on the event loop)."""
    from venice_sdk.gateway.stream import SseScanner

    scanner = SseScanner()
    scanner.feed(b'data: {"choices": [{"delta": {"content": "')
    began = time.process_time()
    for _ in range(8_192):
        scanner.feed(b"x" * 512)
    scanner.feed(b'"}}]}\n\n')
    usage = b'"usage": {"prompt_tokens": 5, "completion_tokens": 1}'
    event = b'data: {"choices": [{"delta": {}}], %s}\r\n\r\n' % usage
    scanner.feed(event * 2_240)
    spent = time.process_time() - began
    assert scanner.events == 1 + 2_240 and scanner.usage == Usage(5, 1)
    assert spent < 0.5, f"{spent:.2f} s of CPU"


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_client_reading_a_big_answer_slowly_gets_all_of_it(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, http: str
) -> None:
    """A 4 MB answer read steadily at about 1 MB/s, far more than ``stall_timeout`` seconds in
    all: the client reads, so it is never dropped, and gets the whole answer. Before, the
    gateway dropped any client that had not read all of an answer ``stall_timeout`` seconds
    after it was written (a slow link lost a big answer it had paid for)."""
    _small_send_buffers(monkeypatch)
    rig = make_rig(http=http, stall_timeout=1.0)
    with _slow_client(rig.url, _post(rig.key, BIG)) as sock:
        raw = b""
        while b"\r\n\r\n" not in raw or len(raw) < _answer_length(raw):
            data = sock.recv(16_384)
            assert data, "the gateway dropped a client that was reading"
            raw += data
            time.sleep(0.015)  # about 1 MB/s
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["usage"]["prompt_tokens"] == PROMPT_TOKENS
    assert rig.ledger.spent(ALICE) == tiny(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert rig.ledger.held(ALICE) == 0


def _answer_length(raw: bytes) -> int:
    """The length of a whole answer (head and body) whose head is in ``raw``."""
    head, _, _ = raw.partition(b"\r\n\r\n")
    return len(head) + 4 + int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_client_reading_a_stream_slowly_is_not_taken_for_a_stalled_one(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, http: str
) -> None:
    """A stream read steadily at about 160 KB/s through a server whose write buffer holds 1 MiB
    before it pauses: draining it takes seconds, far more than ``stall_timeout``, yet the client
    reads all along, so it is never dropped. Before, a client that did not empty the buffer
    within ``stall_timeout`` seconds of each pause was dropped (reading or not)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    _small_send_buffers(monkeypatch)
    for protocol in (HttpToolsProtocol, H11Protocol):
        made = protocol.connection_made

        def big(self: Any, transport: Any, made: Any = made) -> None:
            made(self, transport)
            transport.set_write_buffer_limits(high=1024 * 1024)

        monkeypatch.setattr(protocol, "connection_made", big)
    rig = make_rig(http=http, stall_timeout=1.0)
    with _slow_client(rig.url, _post(rig.key, FLOOD), timeout=10) as sock:
        started = time.monotonic()
        while time.monotonic() - started < 3:  # 3 stall timeouts
            assert sock.recv(16_384), "the gateway dropped a client that was reading"
            time.sleep(0.1)
        assert rig.ledger.held(ALICE)  # the stream still runs
    rig.settled()
    assert rig.ledger.spent(ALICE) > 0


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_body_over_the_limit_is_refused_before_it_is_all_read(
    make_rig: Callable[..., Rig], http: str
) -> None:
    """A chunked body that passes ``max_body_bytes`` and keeps coming (it could be gigabytes):
    a 413 as soon as it is over the limit, nothing held. Before, the gateway read the whole
    body into its memory first."""
    rig = make_rig(http=http, max_body_bytes=1_000)
    host, port = rig.url.removeprefix("http://").split(":")
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n" % rig.key.encode()
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + b"%x\r\n%s\r\n" % (2_000, b" " * 2_000))  # no end: more to come
        answer = sock.recv(65_536)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"over 1000 bytes" in answer
    assert rig.ledger.held(ALICE) == 0 and rig.ledger.spent(ALICE) == 0


def _headers_only(url: str, key: str, length: int) -> socket.socket:
    """A connection that has sent a completion request's headers (``Content-Length: length``)
    and none of its body."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(_post(key, b"", length))
    return sock


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_caller_without_a_valid_key_is_refused_before_its_body_is_read(
    make_rig: Callable[..., Rig], http: str
) -> None:
    """An unknown or revoked key is a 401 as soon as the headers are in, whatever body they
    announce. Before, the gateway read the body first (up to `max_body_bytes`, 4 MiB, kept
    in a worker's memory for as long as the caller took to send it): anyone with a bearer
    header could fill a worker with connections that each announce 4 MiB."""
    rig = make_rig(http=http)
    revoked = rig.keys.issue(ALICE, True)
    rig.keys.revoke(revoked.key_id)
    for key, code in (("vvk_not_a_key", b"unknown_key"), (revoked.key, b"key_revoked")):
        with _headers_only(rig.url, key, 4 * 1024 * 1024 - 1) as sock:
            answer = sock.recv(65_536)
        assert answer.startswith(b"HTTP/1.1 401"), answer
        assert code in answer, answer
    assert rig.ledger.held(ALICE) == 0 and rig.ledger.spent(ALICE) == 0


@pytest.mark.parametrize("http", ["httptools", "h11"])
@pytest.mark.parametrize("trickle", [False, True])
def test_a_client_that_does_not_send_its_whole_body_in_time_is_dropped(
    make_rig: Callable[..., Rig], http: str, trickle: bool
) -> None:
    """A valid key whose body stops coming, or keeps coming a byte at a time: a 408 once
    ``body_timeout`` s have passed since the request came, the connection closed, nothing
    held. Before, the request waited for its body for ever (and a first fix that waited only
    for each part was kept waiting by the trickle, holding what was sent)."""
    rig = make_rig(http=http, body_timeout=1.0)
    with _headers_only(rig.url, rig.key, 1_000) as sock:
        sock.sendall(b'{"model": "tiny", ')
        answer, waited = until_closed(sock, b" " * 100 if trickle else b"", every=0.1)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"did not send its whole body within 1 s" in answer
    assert 0.9 < waited < 5, waited
    assert rig.ledger.held(ALICE) == 0 and rig.ledger.spent(ALICE) == 0


@pytest.mark.parametrize("fails", ["unavailable", "sqlite_error"])
def test_a_key_store_that_fails_is_a_503_not_a_logged_500(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    """A store that says it is unavailable (as Redis's does), and SQLite's own errors (a disk
    I/O error, a file locked past its busy timeout): a 503 ``key_store_unavailable``, nothing
    logged. Before, the first was a 400 and the second a 500, the SQLite store letting
    `sqlite3.Error` out of `resolve` (an 'Exception in ASGI application' logged per request)."""
    rig = make_rig()
    errors = _server_errors(monkeypatch)

    def down(*args: Any) -> Any:
        if fails == "unavailable":
            raise KeyStoreUnavailable("the key store is locked")
        raise sqlite3.OperationalError("disk I/O error")

    if isinstance(rig.keys, RedisKeyStore):  # read on the gateway's own Redis connection
        if fails == "sqlite_error":
            pytest.skip("SQLite's own errors")
        # (a lookup Redis refuses; a Redis that does not answer: the meter's own test)
        monkeypatch.setattr(rig.keys, "lookup_command", lambda key: ("HGETALL",))
    else:
        monkeypatch.setattr(rig.keys, "resolve" if fails == "unavailable" else "_find_by_key", down)
    with pytest.raises(openai.InternalServerError) as refused:
        rig.client().chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == 503
    assert refused.value.body["code"] == "key_store_unavailable"  # type: ignore[index]
    assert errors == []


def test_a_body_sent_a_byte_at_a_time_takes_about_its_size_in_memory() -> None:
    """A body that comes a byte per TCP segment (a key holder pacing its writes) is a part
    per byte. Kept as a list of parts, each byte cost ~48 bytes of the worker's memory (over a
    socket, on both protocols: 44 per byte received), a 4 MiB body ~190 MiB; now about its
    size (the buffer, and the copy returned)."""
    import asyncio

    from starlette.requests import Request

    n = 20_000
    sent = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent += 1
        await asyncio.sleep(0)  # (a part per turn of the loop, as from a socket)
        # (as uvicorn makes a part: bytes of its buffer, not the cached 1-byte object)
        return {"type": "http.request", "body": bytes(bytearray(b"x")), "more_body": sent < n}

    async def read() -> tuple[Any, int]:
        tracemalloc.start()
        try:
            raw = await _read_body(Request({"type": "http"}, receive), 1 << 20, 60)
            return raw, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    raw, peak = asyncio.run(read())
    assert raw == b"x" * n
    assert peak < 3 * n + 16_384, peak


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_client_leaving_in_the_middle_of_its_body_leaves_quietly(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, http: str
) -> None:
    """Nothing held, nothing sent upstream, and no error in the server's log (before, the
    body's reader raised at the disconnect: one logged traceback per such client)."""
    rig = make_rig(http=http)
    errors = _server_errors(monkeypatch)
    with _headers_only(rig.url, rig.key, 1_000) as sock:
        sock.sendall(b'{"model": "tiny", ')
        time.sleep(0.3)
    time.sleep(0.5)
    assert rig.upstream.bodies == [] and rig.ledger.held(ALICE) == 0
    assert errors == []


@pytest.mark.parametrize("limited", [False, True])
def test_a_request_looks_its_key_up_once(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch, limited: bool
) -> None:
    """The key resolved before the body is read goes on to the rate limits and the reserve:
    one lookup a request (two, in the commits that first checked the key before the body, and
    one more with rate limits; each a read of SQLite, or of Redis where the keys are there)."""
    rig = make_rig(limits=Limits(1_000, 1_000_000) if limited else None)
    key_id = rig.keys.resolve(rig.key).key_id
    looked_up: list[Any] = []
    # (keys in Redis are read on the gateway's own connection; their replies go to from_reply)
    name = "from_reply" if isinstance(rig.keys, RedisKeyStore) else "resolve"
    step = getattr(rig.keys, name)

    def counted(arg: Any) -> Any:
        record = step(arg)
        looked_up.append(record.key_id)
        return record

    monkeypatch.setattr(rig.keys, name, counted)
    client = rig.client()
    for _ in range(3):
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])
    rig.settled()
    assert looked_up == [key_id] * 3


def test_a_wallet_with_max_parallel_requests_in_flight_is_answered_429_others_are_not(
    make_rig: Callable[..., Rig],
) -> None:
    """A wallet's requests in flight in a worker are capped (``max_parallel``), whichever of
    its keys they come with: beyond, a 429 ``too_many_parallel_requests`` with Retry-After, at
    once, nothing held; another wallet is served meanwhile, and the wallet again once one of
    its requests has ended. Before, nothing capped them: one tenant's slow uploads (4 MiB each)
    or slow-reading streams could take a worker's memory and its upstream connections."""
    rig = make_rig(max_parallel=2, bob=CREDIT)
    other_key = rig.keys.issue(ALICE, True).key
    bobs_key = rig.keys.issue(BOB, True).key
    hello = [{"role": "user", "content": "normal"}]
    with _headers_only(rig.url, rig.key, 1_000), _headers_only(rig.url, other_key, 1_000):
        deadline = time.monotonic() + 5
        while rig.in_flight != {ALICE.lower(): 2}:  # both uploads under way
            assert time.monotonic() < deadline, rig.in_flight
            time.sleep(0.02)
        with pytest.raises(openai.RateLimitError) as refused:
            rig.client().chat.completions.create(model="tiny", messages=hello)
        assert refused.value.body["code"] == "too_many_parallel_requests"  # type: ignore[index]
        assert refused.value.response.headers["retry-after"] == "1"
        assert rig.ledger.held(ALICE) == 0
        rig.client(bobs_key).chat.completions.create(model="tiny", messages=hello)
    rig.idle()  # (the two left in the middle of their bodies)
    rig.client(other_key).chat.completions.create(model="tiny", messages=hello)
    rig.settled()
    assert rig.ledger.spent(ALICE) == tiny(PROMPT_TOKENS, COMPLETION_TOKENS)


def test_every_way_a_request_ends_gives_its_parallel_slot_back(
    make_rig: Callable[..., Rig],
) -> None:
    """With one request in flight allowed, each ending in turn (answered, streamed, left after
    3 chunks, the upstream failing before and during a stream or answering 500, a refusal for
    credit, a malformed body): the next request is served, so none of them kept its slot."""
    rig = make_rig(max_parallel=1)
    client = rig.client()
    url = rig.url + "/v1/chat/completions"

    def ask(content: str, stream: bool = False, **extra: Any) -> Any:
        return client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": content}], stream=stream, **extra
        )

    def after_3() -> None:
        stream = ask("hang-after-3", stream=True)
        for n, _ in enumerate(stream, 1):
            if n == 3:
                break
        stream.close()

    endings: list[Callable[[], Any]] = [
        lambda: ask("normal"),
        lambda: list(ask("normal", stream=True)),
        after_3,
        lambda: list(ask("fail-before", stream=True)),
        lambda: list(ask("fail-mid", stream=True)),
        lambda: ask("error-500"),
        lambda: ask("normal", max_tokens=10**9),  # a 402: its worst case is over the credit
        lambda: httpx.post(
            url, content=b"{not json", headers={"authorization": f"Bearer {rig.key}"}
        ),
    ]
    for end in endings:
        with contextlib.suppress(openai.APIError):
            end()
        rig.idle()
        ask("normal")
    rig.settled()


def test_a_wallets_bodies_are_read_a_few_at_a_time_and_the_rest_wait_their_turn(
    make_rig: Callable[..., Rig],
) -> None:
    """With one body of a wallet read at a time, and two sent slowly (each a 408 after
    ``body_timeout``): a third request queued behind them for longer than ``body_timeout`` is
    a 429 ``too_many_parallel_requests``; another wallet is served meanwhile; a fourth, whose
    body is all sent, waits unread until its turn and is then served. Before, every body was
    read at once: a key holder sending many 4 MiB bodies slowly filled the worker."""
    rig = make_rig(max_uploads=1, body_timeout=1.0, bob=CREDIT)
    bobs_key = rig.keys.issue(BOB, True).key
    hello = [{"role": "user", "content": "normal"}]
    body = json.dumps({"model": "tiny", "messages": hello}).encode()

    def queued(count: int) -> None:
        deadline = time.monotonic() + 5
        while (entry := rig.uploads.get(ALICE.lower())) is None or entry[1][0] != count:
            assert time.monotonic() < deadline, rig.uploads
            time.sleep(0.01)

    began = time.monotonic()
    with _headers_only(rig.url, rig.key, 1_000) as first:
        queued(1)
        # The second waits for its turn up to body_timeout, as the first's body does: sent a
        # moment later only, its wait could end in the loop's step that ends the first (a
        # loaded machine: CI once), and the turn went to the third, which was then served.
        time.sleep(0.3)
        with _headers_only(rig.url, rig.key, 1_000) as second:
            queued(2)
            client = rig.client()
            asked = time.monotonic()
            with pytest.raises(openai.RateLimitError) as refused:
                client.chat.completions.create(model="tiny", messages=hello)
            assert refused.value.body["code"] == "too_many_parallel_requests"  # type: ignore[index]
            # It waited its ``body_timeout`` for a turn, timed from its own send (a busy
            # machine's client setup is not the gateway's; it flaked once timed from `began`).
            assert 0.9 < time.monotonic() - asked < 1.9
            rig.client(bobs_key).chat.completions.create(model="tiny", messages=hello)
            with _headers_only(rig.url, rig.key, len(body)) as fourth:
                fourth.sendall(body)
                fourth.settimeout(10)
                assert fourth.recv(65_536).startswith(b"HTTP/1.1 200")
                assert time.monotonic() - began > 1.9  # after the second's 408
            for slow in (first, second):
                answer, _ = until_closed(slow)
                assert answer.startswith(b"HTTP/1.1 408"), answer
    rig.idle()
    rig.settled()
    assert rig.uploads == {}
    assert rig.ledger.spent(ALICE) == tiny(PROMPT_TOKENS, COMPLETION_TOKENS)


def test_a_client_with_one_request_at_a_time_is_not_refused_for_parallel_requests(
    make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that sends its next request only once it has read the last answer whole has
    one request in flight, never two: with ``max_parallel=1`` it is served every time. The
    slot is given back only after the stream's settle (`MeteredStream` awaits ``on_end``
    after the last byte went out), and uvicorn starts the keep-alive connection's next request
    as soon as the last byte is sent: a settle taking a moment (a Redis round trip, a busy
    SQLite, the thread pool full) makes that next request a 429 too_many_parallel_requests."""
    import asyncio

    rig = make_rig(max_parallel=1)
    finish = rig.meter.finish

    async def slow_finish(*args: Any) -> Any:
        await asyncio.sleep(0.3)  # (a settle that takes a moment)
        return await finish(*args)

    monkeypatch.setattr(rig.meter, "finish", slow_finish)
    client = rig.client()
    hello = [{"role": "user", "content": "normal"}]
    for _ in range(2):
        list(client.chat.completions.create(model="tiny", messages=hello, stream=True))
    rig.settled()
