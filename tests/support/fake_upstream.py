"""A test upstream that speaks OpenAI's wire format (JSON, and SSE with a usage chunk), and a
way to run any ASGI app on a free loopback port in a thread.

The last message's content (or the prompt) picks the behaviour: ``normal``, ``hang-after-3``
(three chunks, then waits to be cancelled), ``fail-mid`` (three chunks, then the connection
breaks), ``fail-before`` (the stream breaks before any output), ``error-500``, ``big`` (an
answer of about 4 MB) or ``flood`` (a stream of `FLOOD_TOKENS` chunks of about 1 KB, as fast as
the socket takes them).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from venice_ops.bench.redis import free_port

PROMPT_TOKENS = 17
COMPLETION_TOKENS = 5
STREAM_TOKENS = 8
FLOOD_TOKENS = 3_000
BIG_ANSWER = 4_000_000


class FakeUpstream:
    """The upstream app, and what it saw: bodies received, streams cancelled."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.cancelled = threading.Event()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/completions", self.completions, methods=["POST"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/images/generations", self.images, methods=["POST"]),
            ]
        )

    @staticmethod
    def _mode(body: dict[str, Any]) -> str:
        if "messages" in body:
            return str(body["messages"][-1]["content"])
        return str(body.get("prompt", "normal"))

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.bodies.append(body)
        mode = self._mode(body)
        if mode == "error-500":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if mode == "deep":  # JSON nested deeper than Python's parser recurses
            return Response(b"[" * 100_000, media_type="application/json")
        if body.get("stream"):
            return StreamingResponse(self._stream(body, mode), media_type="text/event-stream")
        content = "x" * BIG_ANSWER if mode == "big" else "hello " * 5
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                },
            }
        )

    async def _stream(self, body: dict[str, Any], mode: str) -> AsyncIterator[bytes]:
        options = body.get("stream_options") or {}
        continuous = options.get("continuous_usage_stats")

        def event(obj: dict[str, Any]) -> bytes:
            return b"data: " + json.dumps(obj).encode() + b"\n\n"

        if mode == "fail-before":
            raise RuntimeError("the model crashed before any output")
        if mode == "flood":  # FLOOD_TOKENS chunks of ~1 KB as fast as the socket takes them
            for i in range(1, FLOOD_TOKENS + 1):
                yield event(
                    {"choices": [{"index": 0, "delta": {"content": f"{i:05d}" + "x" * 1_000}}]}
                )
            yield event({"choices": [], "usage": {"prompt_tokens": PROMPT_TOKENS,
                                                  "completion_tokens": FLOOD_TOKENS}})  # fmt: skip
            yield b"data: [DONE]\n\n"
            return
        try:
            for i in range(1, STREAM_TOKENS + 1):
                chunk: dict[str, Any] = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "delta": {"content": f"t{i} "}, "finish_reason": None}
                    ],
                }
                if continuous:
                    chunk["usage"] = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": i,
                                      "total_tokens": PROMPT_TOKENS + i}  # fmt: skip
                yield event(chunk)
                await asyncio.sleep(0.01)
                if i == 3 and mode == "hang-after-3":
                    await asyncio.sleep(60)
                if i == 3 and mode == "fail-mid":
                    raise RuntimeError("the model crashed mid-stream")
            if options.get("include_usage"):
                yield event({
                    "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
                    "model": body["model"], "choices": [],
                    "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": STREAM_TOKENS,
                              "total_tokens": PROMPT_TOKENS + STREAM_TOKENS},
                })  # fmt: skip
            yield b"data: [DONE]\n\n"
        except asyncio.CancelledError:
            self.cancelled.set()
            raise

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.bodies.append(body)
        return JSONResponse(
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "text": "hi", "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13},
            }
        )

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.bodies.append(body)
        if body.get("input") == "many-floats":  # an answer of ~6 MB: 2,048 vectors
            vector = [0.123456789] * 256
            data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(2048)]
            usage = {"prompt_tokens": 20, "total_tokens": 20}
            return JSONResponse(
                {"object": "list", "model": body["model"], "data": data, "usage": usage}
            )
        return JSONResponse(
            {
                "object": "list",
                "model": body["model"],
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                "usage": {"prompt_tokens": 9, "total_tokens": 9},
            }
        )

    async def images(self, request: Request) -> Response:
        """Makes one image fewer than asked for when asked for more than one."""
        body = await request.json()
        self.bodies.append(body)
        made = max(1, int(body.get("n", 1)) - 1)
        return JSONResponse({"created": 0, "data": [{"b64_json": "AAAA"}] * made})


@contextmanager
def serving(app: Any, http: Any = "auto", **options: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn (``http``: its HTTP protocol, a name or a class; ``options``:
    more of uvicorn's settings) on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", lifespan="on", http=http, **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
