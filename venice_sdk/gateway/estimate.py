"""The worst case of an OpenAI-style request, computed from its body without a network call.

Input: a tokenizer never makes more tokens than the prompt has bytes (every BPE or
SentencePiece token covers at least one byte), and a request body holds its prompt plus JSON
around it, which outweighs the few tokens a chat template adds per message. So the body's size
in bytes, plus `PROMPT_OVERHEAD`, bounds the prompt's tokens from above. Not so for a message
with images, audio or video (a short URL can be thousands of tokens): such a request is held
at the model's context length (``context_tokens`` in the price book), and refused for a model
without one.

Images: ``n`` (default 1), priced per image.

Output: ``max_completion_tokens`` or ``max_tokens`` times the choices asked for (``n``, and
``best_of`` for completions) times the prompts of a completions batch (``prompt`` as a list of
strings or of token lists, and ``prompt_embeds`` as a list: servers answer each prompt); a
request that sets no limit gets the gateway's default. The limit held is written into the
forwarded body under every name a server may read it by (`LIMIT_FIELDS`), so the upstream
cannot generate more than was held whichever it reads first (llama.cpp's server reads
``n_predict``, then ``max_tokens``, and no ``max_completion_tokens``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "LIMIT_FIELDS",
    "MAX_CHOICES",
    "MAX_OUTPUT_TOKENS",
    "PROMPT_OVERHEAD",
    "WorstCase",
    "worst_case",
]

#: Tokens added to the body's size for a chat template's special tokens.
PROMPT_OVERHEAD = 64
#: Largest ``max_tokens`` and ``n`` accepted (anything more is a malformed request).
MAX_OUTPUT_TOKENS = 10_000_000
MAX_CHOICES = 128
#: The names an output limit goes by in OpenAI-compatible servers' requests: ``max_tokens`` is
#: always sent with the limit held, the others are overwritten with it when the client sent them.
LIMIT_FIELDS = ("max_tokens", "max_completion_tokens", "n_predict")


@dataclass(frozen=True)
class WorstCase:
    """Upper bounds of a request's input and output tokens."""

    input_tokens: int
    output_tokens: int
    images: int = 0
    #: Prompts of a completions batch (each event's usage counts its own prompt's tokens).
    prompts: int = 1


def _count(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"'{name}' must be an integer between {low} and {high}")
    return value


def worst_case(
    kind: str,
    raw: bytes,
    body: dict[str, Any],
    default_max_tokens: int,
    context_tokens: int | None = None,
) -> WorstCase:
    """The worst case of a request of ``kind`` (``chat``, ``completions``, ``embeddings`` or
    ``images``: ``n`` images, default 1)
    whose body is ``raw`` (parsed: ``body``), for a model of ``context_tokens`` (its context
    length, if the price book gives it). Writes the output limit held into ``body`` (each of
    `LIMIT_FIELDS` it has, and ``max_tokens``). Raises `ValueError` for a malformed limit, and
    for a prompt with images, audio or video to a model whose context length is not known."""
    if kind == "images":
        return WorstCase(0, 0, _count(body, "n", 1, MAX_CHOICES) or 1)
    input_tokens = len(raw) + PROMPT_OVERHEAD
    if _has_media(body):
        # An image's tokens are not bounded by its bytes (a URL of 40 bytes can be thousands
        # of tokens): only the model's context length bounds such a prompt.
        if context_tokens is None:
            raise ValueError(
                f"model '{body.get('model')}' takes no image, audio or video parts here (the "
                "gateway cannot bound their tokens: its operator gives the model's "
                "context_tokens in the price book)"
            )
        input_tokens = max(input_tokens, context_tokens)
    if kind == "embeddings":
        return WorstCase(input_tokens, 0)
    limit = None
    if kind == "chat":
        limit = _count(body, "max_completion_tokens", 1, MAX_OUTPUT_TOKENS)
    if limit is None:
        limit = _count(body, "max_tokens", 1, MAX_OUTPUT_TOKENS)
    if limit is None:
        limit = default_max_tokens
    for name in LIMIT_FIELDS:
        if name == "max_tokens" or name in body:
            body[name] = limit
    choices = _count(body, "n", 1, MAX_CHOICES) or 1
    if kind == "completions":
        choices = max(choices, _count(body, "best_of", 1, MAX_CHOICES) or 1)
        prompts = _prompts(body)
        return WorstCase(input_tokens, limit * choices * prompts, prompts=prompts)
    return WorstCase(input_tokens, limit * choices)


def _prompts(body: dict[str, Any]) -> int:
    """How many prompts a completions request is: ``prompt`` as a list of strings or of token
    lists is a batch (a list of token ids is one prompt), and so is ``prompt_embeds`` as a list
    (vLLM answers both, each prompt with its own choices)."""
    count = 0
    for name in ("prompt", "prompt_embeds"):
        value = body.get(name)
        if isinstance(value, list) and not all(isinstance(item, int) for item in value):
            count += len(value)
        elif value is not None:
            count += 1
    return max(count, 1)


#: Content part types that are text (their tokens are bounded by their bytes).
_TEXT_PARTS = ("text", "refusal")


def _has_media(body: dict[str, Any]) -> bool:
    """Whether a message of ``body`` has a content part that is not text (``image_url``,
    ``input_audio``, ``video_url``, ``file``, or any type the gateway does not know), or its
    ``prompt`` is an object or has one (llama.cpp's multimodal prompts: data beside the text)."""
    prompt = body.get("prompt")
    if isinstance(prompt, dict) or (
        isinstance(prompt, list) and any(isinstance(item, dict) for item in prompt)
    ):
        return True
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for part in content:
                if not isinstance(part, dict) or part.get("type") not in _TEXT_PARTS:
                    return True
    return False
