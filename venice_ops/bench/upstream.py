"""A fast OpenAI-compatible upstream for the gateway benchmark:
`python -m venice_ops.bench.upstream --port 8000 [--tokens 1000] [--interval 0.01]`.

A bare ASGI app (no framework, uvloop and httptools) so the direct path costs as little as it
can. ``POST /v1/chat/completions``: a JSON completion of ``max_tokens`` (default 16) tokens with
its ``usage``, or with ``"stream": true`` an SSE stream of ``--tokens`` chunks, one token each,
one every ``--interval`` seconds, then the usage chunk (when ``stream_options.include_usage``)
and ``data: [DONE]``. Every chunk starts with ``"t"``: `time.monotonic()` when it was sent (one
clock for every process of the machine), so a reader can tell how long each chunk took to
reach it (`venice_ops.bench.streams`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

PROMPT_TOKENS = 20

Scope = dict[str, Any]


def _json(obj: dict[str, Any], status: int = 200) -> tuple[int, bytes]:
    return status, json.dumps(obj).encode()


def completion(model: str, tokens: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "tok " * tokens},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": tokens,
            "total_tokens": PROMPT_TOKENS + tokens,
        },
    }


def chunk(model: str) -> bytes:
    """One token's SSE event, stamped with the time it is sent."""
    return (
        b'data: {"t":%.6f,"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,'
        b'"model":"%s","choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}'
        b"\n\n" % (time.monotonic(), model.encode())
    )


def make_app(tokens: int, interval: float) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] != "POST" or scope["path"] != "/v1/chat/completions":
            status, body = _json({"error": {"message": "not found", "code": "not_found"}}, 404)
            await _answer(send, status, body)
            return
        try:
            request = json.loads(raw)
            model = str(request["model"])
        except (ValueError, KeyError, TypeError):
            await _answer(send, *_json({"error": {"message": "bad body"}}, 400))
            return
        if request.get("stream") is not True:
            await _answer(send, *_json(completion(model, int(request.get("max_tokens") or 16))))
            return
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for _ in range(tokens):
            await asyncio.sleep(interval)
            await send({"type": "http.response.body", "body": chunk(model), "more_body": True})
        if (request.get("stream_options") or {}).get("include_usage"):
            usage = completion(model, tokens)["usage"]
            last = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0,
                    "model": model, "choices": [], "usage": usage}  # fmt: skip
            data = b"data: " + json.dumps(last).encode() + b"\n\n"
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    return app


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=1_000, help="tokens per stream")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between tokens")
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.tokens, args.interval),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
