"""The inference gateway: an OpenAI-compatible reverse proxy that bills the actual usage.

Point it at any OpenAI-compatible model server (vLLM, SGLang, llama.cpp's server, Ollama)::

    venice-sdk gateway --upstream http://127.0.0.1:8000 --manifest deployments/1.json \\
        --rpc https://... [--port 8788] [--redis-url redis://...] [--prices prices.yaml]

and call it with any OpenAI client, with a Venice API key (``vvk_...``) as the API key. For
``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings`` and ``/v1/images/generations``
it holds the request's worst case on the ledger (`venice_sdk.metering.Metering`), forwards it,
and settles at the usage the upstream reports; ``/v1/models`` lists the price book's models.
See `app` for the details.
"""

from __future__ import annotations

from typing import Any

__all__ = ["METERED", "GatewayConfig", "WorstCase", "create_gateway", "worst_case"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `venice-sdk check` loads this package's command without needing
    # the server extra (starlette, httpx) that the app needs.
    if name in {"METERED", "GatewayConfig", "create_gateway"}:
        from venice_sdk.gateway import app

        return getattr(app, name)
    if name in {"WorstCase", "worst_case"}:
        from venice_sdk.gateway import estimate

        return getattr(estimate, name)
    raise AttributeError(name)
