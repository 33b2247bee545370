"""A key holder trying to be served more than the gateway bills: requests whose output the
upstream multiplies or bounds by fields the gateway did not read, against an upstream that
reports its usage honestly (a vLLM-like completions route, a llama.cpp-like chat route)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.fake_gate import ALICE, make_gate
from tests.support.fake_upstream import PROMPT_TOKENS as UPSTREAM_PROMPT
from tests.support.fake_upstream import STREAM_TOKENS, FakeUpstream, serving
from venice_sdk.gateway import GatewayConfig, create_gateway
from venice_sdk.gateway.estimate import PROMPT_OVERHEAD
from venice_sdk.gateway.meter import Meter, Served
from venice_sdk.gateway.stream import Usage
from venice_sdk.ledger import HOLD_TTL, CreditLedger

httpx = pytest.importorskip("httpx")

CREDIT = 10_000_000
PROMPT_TOKENS = 7
#: An image's tokens in a vision model's prompt (Qwen2-VL: up to 16,384).
IMAGE_TOKENS = 1_500


def tiny(prompt: int, completion: int) -> int:
    """The price of "tiny": 1 micro-USD per input token, 3 per output token."""
    return prompt + 3 * completion


def _prompts(body: dict[str, Any]) -> int:
    """How many prompts a completions request is (vLLM, SGLang, llama.cpp: a list of strings or
    of token lists is a batch, each prompt answered ``n`` times)."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and prompt and not isinstance(prompt[0], int):
        return len(prompt)
    return 1


class HonestUpstream:
    """Generates every token it is allowed to and reports exactly that as its usage.

    ``/v1/completions`` as vLLM: ``max_tokens`` per choice, ``max(n, best_of)`` choices per
    prompt, one set of choices per prompt of a batch. ``/v1/chat/completions`` as llama.cpp's
    server: the output limit is ``n_predict``, else ``max_tokens`` (it does not read
    ``max_completion_tokens``), else unbounded (here 100,000)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/v1/completions", self.completions, methods=["POST"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
            ]
        )

    @staticmethod
    def _answer(prompt_tokens: int, completion_tokens: int) -> Response:
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}  # fmt: skip
        return JSONResponse({"id": "x", "object": "x", "created": 0, "model": "tiny",
                             "choices": [], "usage": usage})  # fmt: skip

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.bodies.append(body)
        prompts = _prompts(body)
        per_prompt = max(body.get("n") or 1, body.get("best_of") or 1)
        prompt = body.get("prompt")
        # One prompt of text: as a byte-level BPE tokenizer with characters it has no merges
        # for, one token per byte of its UTF-8.
        read = len(prompt.encode()) if isinstance(prompt, str) else PROMPT_TOKENS * prompts
        return self._answer(read, body["max_tokens"] * per_prompt * prompts)

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.bodies.append(body)
        limit = body.get("n_predict", body.get("max_tokens", 100_000))
        # A vision model's prompt: each image is `IMAGE_TOKENS` tokens, whatever its URL's size.
        images = sum(
            1
            for message in body["messages"]
            if isinstance(message.get("content"), list)
            for part in message["content"]
            if part.get("type") == "image_url"
        )
        return self._answer(PROMPT_TOKENS + IMAGE_TOKENS * images, limit)


@contextlib.contextmanager
def _gateway(
    ledger: CreditLedger, tmp_path: Path, upstream: Any, **options: Any
) -> Iterator[tuple[str, str]]:
    """A gateway over ``ledger`` (``options``: its config's) in front of the ASGI app
    ``upstream``: its URL and a key of ALICE (who has `CREDIT` a day)."""
    with contextlib.ExitStack() as stack:
        upstream_url = stack.enter_context(serving(upstream))
        gate, keys, _ = make_gate(ledger, tmp_path, {ALICE: CREDIT})
        config = GatewayConfig(upstream=upstream_url, **{"default_max_tokens": 1_000, **options})
        yield (
            stack.enter_context(serving(create_gateway(gate, config))),
            keys.issue(ALICE, True).key,
        )


@pytest.fixture
def rig(
    ledger: CreditLedger, tmp_path: Path
) -> Iterator[tuple[HonestUpstream, Callable[..., Any]]]:
    upstream = HonestUpstream()
    with _gateway(ledger, tmp_path, upstream.app) as (url, key):

        def post(path: str, body: dict[str, Any] | bytes) -> Any:
            headers = {"authorization": f"Bearer {key}"}
            if isinstance(body, bytes):
                return httpx.post(url + path, content=body, headers=headers, timeout=30)
            return httpx.post(url + path, json=body, headers=headers, timeout=30)

        yield upstream, post


def test_a_batch_of_prompts_is_held_and_billed_for_every_prompts_output(
    rig: tuple[HonestUpstream, Callable[..., Any]], ledger: CreditLedger
) -> None:
    _, post = rig
    # One request, 50 prompts, 100 tokens each: 5,000 output tokens generated upstream.
    for prompt in (["hi"] * 50, [[1, 2, 3]] * 50):
        before = ledger.spent(ALICE)
        answer = post("/v1/completions", {"model": "tiny", "prompt": prompt, "max_tokens": 100})
        assert answer.status_code == 200
        usage = answer.json()["usage"]
        assert usage["completion_tokens"] == 5_000
        assert ledger.spent(ALICE) - before == tiny(usage["prompt_tokens"], 5_000)
    assert ledger.held(ALICE) == 0


def test_a_batch_with_n_and_best_of_is_billed_for_all_of_it(
    rig: tuple[HonestUpstream, Callable[..., Any]], ledger: CreditLedger
) -> None:
    _, post = rig
    body = {"model": "tiny", "prompt": ["a", "b", "c"], "max_tokens": 10, "n": 2, "best_of": 4}
    answer = post("/v1/completions", body)
    assert answer.status_code == 200
    assert answer.json()["usage"]["completion_tokens"] == 3 * 4 * 10
    assert ledger.spent(ALICE) == tiny(3 * PROMPT_TOKENS, 120)


@pytest.mark.parametrize(
    "limits",
    [
        {"max_completion_tokens": 5},  # llama.cpp reads no max_completion_tokens
        {"max_completion_tokens": 5, "max_tokens": 90_000},  # held 5, max_tokens ignored
        {"max_tokens": 5, "n_predict": 90_000},  # llama.cpp's own name comes first there
        {"n_predict": 90_000},  # no limit the gateway reads: its default is held
    ],
)
def test_the_upstream_is_told_no_larger_output_limit_than_was_held(
    rig: tuple[HonestUpstream, Callable[..., Any]], ledger: CreditLedger, limits: dict[str, int]
) -> None:
    upstream, post = rig
    hello = [{"role": "user", "content": "hi"}]
    answer = post("/v1/chat/completions", {"model": "tiny", "messages": hello, **limits})
    assert answer.status_code == 200
    generated = answer.json()["usage"]["completion_tokens"]
    assert ledger.spent(ALICE) == tiny(PROMPT_TOKENS, generated)
    held = limits.get("max_completion_tokens") or limits.get("max_tokens") or 1_000
    sent = upstream.bodies[-1]
    for name in ("max_tokens", "max_completion_tokens", "n_predict"):
        assert sent.get(name, 0) <= held, (name, sent)


def test_a_request_settled_after_its_keys_hold_expired_but_not_its_wallets_is_charged_once(
    ledger: CreditLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key with a budget is held on the key first, then on the wallet: the key's hold expires
    a moment before the wallet's. A settle in that moment debited the wallet's hold, then, on
    the key's `hold_expired`, debited the wallet once more as if its hold had gone too."""
    gate, keys, _ = make_gate(ledger, tmp_path, {ALICE: CREDIT})
    limited = keys.issue(ALICE, True, daily_limit_micros=1_000_000)
    clock: Any = ledger.clock
    reserve = ledger.reserve

    def slow(*args: Any, **kwargs: Any) -> Any:
        hold = reserve(*args, **kwargs)
        if hold.request_id.endswith(":k"):
            clock.now += 0.5  # the time between the key's hold and the wallet's
        return hold

    monkeypatch.setattr(ledger, "reserve", slow)
    meter = Meter(gate)
    taken = clock.now
    reservation = asyncio.run(meter.reserve(limited.key, "req-1", 5_000, "tiny"))
    assert reservation.allowed
    clock.now = taken + HOLD_TTL + 0.25  # past the key's hold, not the wallet's
    cost = tiny(PROMPT_TOKENS, 10)
    served = Served("tiny", "complete", cost, Usage(PROMPT_TOKENS, 10), None)
    asyncio.run(meter.finish(reservation, served))
    assert ledger.spent(ALICE) == cost


def test_a_body_in_utf_16_cannot_hold_its_prompt_for_fewer_tokens_than_it_has(
    rig: tuple[HonestUpstream, Callable[..., Any]], ledger: CreditLedger
) -> None:
    """The prompt's bound is the body's size in bytes, sound for UTF-8 (a tokenizer makes no
    more tokens than the text's UTF-8 bytes); Python's JSON parser also reads UTF-16 and UTF-32,
    in which a character of U+0800-U+FFFF takes 2 bytes and its UTF-8 3."""
    _, post = rig
    body = {"model": "tiny", "prompt": "\ua000" * 20_000, "max_tokens": 1}
    raw = json.dumps(body, ensure_ascii=False).encode("utf-16")
    answer = post("/v1/completions", raw)
    if answer.status_code == 200:  # served: then billed for all of its prompt
        usage = answer.json()["usage"]
        assert usage["prompt_tokens"] == 60_000 > len(raw)
        assert ledger.spent(ALICE) == tiny(60_000, 1)
    else:
        assert answer.status_code == 400 and ledger.spent(ALICE) == 0
    # The same body in UTF-8 is served and billed in full.
    answer = post("/v1/completions", json.dumps(body, ensure_ascii=False).encode())
    assert answer.status_code == 200
    assert ledger.spent(ALICE) == tiny(60_000, 1) and ledger.held(ALICE) == 0


@pytest.mark.parametrize("stream", [1, "true"])
def test_a_stream_asked_for_by_a_value_the_upstream_reads_as_true_is_not_charged_its_hold(
    ledger: CreditLedger, tmp_path: Path, stream: Any
) -> None:
    """OpenAI-compatible servers validate with pydantic, which reads ``1`` or ``"true"`` as
    True and streams; the gateway took anything but ``true`` for no stream, read the events as
    one JSON answer, found no usage in it and charged the request its hold (the worst case)."""
    with _gateway(ledger, tmp_path, FakeUpstream().app) as (url, key):
        hello = [{"role": "user", "content": "normal"}]
        body = {"model": "tiny", "messages": hello, "stream": stream}
        headers = {"authorization": f"Bearer {key}"}
        answer = httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    if answer.status_code == 200:
        assert ledger.spent(ALICE) == tiny(UPSTREAM_PROMPT, STREAM_TOKENS)
    else:
        assert answer.status_code == 400 and ledger.spent(ALICE) == 0
    assert ledger.held(ALICE) == 0


async def _vllm_stream(request: Request) -> Response:
    """vLLM's stream with ``continuous_usage_stats``: ``n`` choices per prompt (a completions
    batch: one prompt after another), one event per choice per step, each with the usage of
    that choice and its prompt alone (``previous_num_tokens[i]``, ``num_prompt_tokens[i]``);
    it stops sending after 3 steps (the client leaves meanwhile)."""
    body = await request.json()
    prompt = body.get("prompt")
    choices = body.get("n", 1) * (len(prompt) if isinstance(prompt, list) else 1)

    async def events() -> AsyncIterator[bytes]:
        for step in range(1, 4):
            for i in range(choices):
                usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": step,
                         "total_tokens": PROMPT_TOKENS + step}  # fmt: skip
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0,
                         "model": "tiny", "usage": usage,
                         "choices": [{"index": i, "delta": {"content": "t "}}]}  # fmt: skip
                yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
        await asyncio.sleep(30)

    return StreamingResponse(events(), media_type="text/event-stream")


@pytest.mark.parametrize(
    ("path", "body", "choices"),
    [
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 8}, 8),
        ("/v1/completions", {"prompt": ["a", "b", "c"], "n": 2}, 6),
    ],
)
def test_a_stream_of_n_choices_cut_short_pays_every_choices_tokens(
    ledger: CreditLedger, tmp_path: Path, path: str, body: dict[str, Any], choices: int
) -> None:
    """With ``--continuous-usage`` a stream cut short settled at the latest usage seen; vLLM
    reports each choice's own tokens (and its own prompt's) in its events, so that was one
    choice's of ``n``, and one prompt's of a batch."""
    routes = [Route(p, _vllm_stream, methods=["POST"]) for p in ("/v1/chat/completions",
                                                                  "/v1/completions")]  # fmt: skip
    with _gateway(ledger, tmp_path, Starlette(routes=routes), continuous_usage=True) as (url, key):
        raw = json.dumps({"model": "tiny", "stream": True, "max_tokens": 10, **body}).encode()
        headers = {"authorization": f"Bearer {key}"}
        events = 0
        with httpx.stream("POST", url + path, content=raw, headers=headers,
                          timeout=10) as reply:  # fmt: skip
            for line in reply.iter_lines():
                events += line.startswith("data: ")
                if events == 3 * choices:  # every choice's 3 tokens
                    break
        deadline = time.monotonic() + 5
        while ledger.held(ALICE) and time.monotonic() < deadline:
            time.sleep(0.02)
    assert ledger.held(ALICE) == 0
    # A batch's events each count one prompt: it pays the prompts' bound (its body's bytes).
    prompt = PROMPT_TOKENS if "messages" in body else len(raw) + PROMPT_OVERHEAD
    assert ledger.spent(ALICE) == tiny(prompt, 3 * choices)


def test_a_prompt_with_images_is_held_at_the_models_context_length(
    rig: tuple[HonestUpstream, Callable[..., Any]], ledger: CreditLedger
) -> None:
    """A message's image parts are thousands of tokens each whatever the bytes of their URLs,
    so the body's size no longer bounds the prompt: a model with ``context_tokens`` in the price
    book holds such a request at that, and bills the upstream's usage in full; a model without
    it refuses image, audio and video parts (a 400, nothing held or sent upstream). Before,
    20 images of 1,500 tokens in a 1.5 KB body were held at the body's size and the settle
    capped there: billed about 1,500 micro-USD for 30,000's worth."""
    upstream, post = rig
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    parts = [{"type": "text", "text": "what is in these?"}, *[image] * 20]
    body = {"messages": [{"role": "user", "content": parts}], "max_tokens": 10}
    answer = post("/v1/chat/completions", {"model": "tiny-vl", **body})
    assert answer.status_code == 200, answer.text
    assert answer.json()["usage"]["prompt_tokens"] == PROMPT_TOKENS + 20 * IMAGE_TOKENS
    assert ledger.spent(ALICE) == tiny(PROMPT_TOKENS + 20 * IMAGE_TOKENS, 10)
    sent = len(upstream.bodies)
    for part in (image, {"type": "input_audio", "input_audio": {"data": "AAAA"}}, {"x": 1}):
        refused = post(
            "/v1/chat/completions",
            {"model": "tiny", "messages": [{"role": "user", "content": [part]}]},
        )
        assert refused.status_code == 400, refused.text
        assert "context_tokens" in refused.json()["error"]["message"]
    # llama.cpp's multimodal prompt objects on /v1/completions: data beside the text.
    multimodal = {"prompt_string": "<__media__> what is it?", "multimodal_data": ["AAAA"]}
    for prompt in (multimodal, [multimodal, "hi"]):
        refused = post("/v1/completions", {"model": "tiny", "prompt": prompt})
        assert refused.status_code == 400 and "context_tokens" in refused.text, refused.text
    # Text parts alone are bounded by their bytes, as a string content is.
    text = post("/v1/chat/completions", {"model": "tiny", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}]})  # fmt: skip
    assert text.status_code == 200
    assert len(upstream.bodies) == sent + 1
    assert ledger.held(ALICE) == 0
