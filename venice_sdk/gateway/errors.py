"""Errors in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, with the status
the official clients map to their exception types (401 `AuthenticationError`, 402 an
`APIStatusError` with ``status_code == 402``, 404 `NotFoundError`, 400 `BadRequestError`,
429 `RateLimitError`, 503 `InternalServerError`)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

from venice_sdk.errors import Reason

__all__ = ["STATUS_OF", "TYPE_OF", "openai_error", "status_of"]

#: The HTTP status of each refusal a reserve can give.
STATUS_OF: dict[str, int] = {
    Reason.INVALID_API_KEY: 401,
    Reason.UNKNOWN_KEY: 401,
    Reason.KEY_REVOKED: 401,
    Reason.KEY_EXPIRED: 401,
    Reason.INSUFFICIENT_CREDIT: 402,
    Reason.NO_CREDIT: 402,
    Reason.KEY_LIMIT_REACHED: 402,
    Reason.KEY_MONTHLY_LIMIT_REACHED: 402,
    Reason.MODEL_NOT_ALLOWED: 403,
    Reason.UNKNOWN_MODEL: 404,
    Reason.RATE_LIMITED: 429,
    Reason.TOO_MANY_PARALLEL: 429,
    Reason.RPC_UNAVAILABLE: 503,
    Reason.LEDGER_UNAVAILABLE: 503,
    Reason.KEY_STORE_UNAVAILABLE: 503,
    Reason.UPSTREAM_UNAVAILABLE: 503,
}

TYPE_OF: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    429: "requests",
    503: "service_unavailable",
}


def status_of(code: str) -> int:
    """The status of a refusal (400 for anything not listed: a malformed request)."""
    return STATUS_OF.get(code, 400)


def openai_error(
    code: str,
    message: str,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    status = status_of(code) if status is None else status
    body = {
        "error": {
            "message": message,
            "type": TYPE_OF.get(status, "api_error"),
            "param": None,
            "code": str(code),
        }
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))
