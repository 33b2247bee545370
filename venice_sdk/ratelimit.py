"""Rate limits per API key: requests per minute and tokens per minute.

A minute is a fixed UTC window (``int(now) // 60``). `RateLimiter.hit` counts one request if
the key is under both limits in this window (the check and the count are one atomic step), and
`RateLimiter.add_tokens` adds a request's actual tokens once it is settled; a key over its
tokens stops being admitted until the next window. `RedisRateLimiter` shares the counts across
a fleet's workers and replicas (one Lua script, one round trip per call); `LocalRateLimiter`
keeps them in this process (the single-process default, with SQLite).

`RateLimitPolicy` gives each key its limits: its own override, else its tier (by staked DIEM,
else Pro), else the default; `RateLimitPolicy.load` reads them from a YAML or JSON file::

    default: {requests_per_minute: 20, tokens_per_minute: 40000}
    pro: {requests_per_minute: 60, tokens_per_minute: 200000}
    diem:                       # the highest tier whose min_diem the wallet has staked
      - {min_diem: "1", requests_per_minute: 100, tokens_per_minute: 1000000}
    keys:                       # per key id, overriding the tiers
      3f2a...: {requests_per_minute: 500, tokens_per_minute: 5000000}
"""

from __future__ import annotations

import hashlib
import importlib
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from venice_sdk.clock import Clock
from venice_sdk.ledger import LedgerUnavailable
from venice_sdk.ledger.connections import redis_client, unavailable_errors
from venice_sdk.units import AmountError, parse_units

if TYPE_CHECKING:
    import redis

__all__ = [
    "WINDOW",
    "Limits",
    "LocalRateLimiter",
    "RateLimitPolicy",
    "RateLimiter",
    "RateState",
    "RedisRateLimiter",
]

#: Seconds in a rate limit window.
WINDOW = 60
_MAX = 10**12

_LUA = resources.files("venice_sdk").joinpath("ratelimit.lua").read_text(encoding="utf-8")
_SHA = hashlib.sha1(_LUA.encode()).hexdigest()


@dataclass(frozen=True)
class Limits:
    requests_per_minute: int
    tokens_per_minute: int

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX:
                raise ValueError(f"{name} must be an integer between 0 and {_MAX}, not {value!r}")


@dataclass(frozen=True)
class RateState:
    """A key's rate limit state after a call; ``exceeded`` names the limit that refused it."""

    allowed: bool
    limits: Limits
    requests: int  # counted in this window, after the call
    tokens: int
    reset: float  # seconds until the window ends
    exceeded: Literal["requests", "tokens"] | None = None

    @property
    def remaining_requests(self) -> int:
        return max(0, self.limits.requests_per_minute - self.requests)

    @property
    def remaining_tokens(self) -> int:
        return max(0, self.limits.tokens_per_minute - self.tokens)

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait before a refused request may pass (at least 1)."""
        return max(1, math.ceil(self.reset))


class RateLimiter(ABC):
    """Counts requests and tokens per key in fixed one-minute windows."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else time.time

    def _window(self) -> tuple[int, float]:
        now = float(self.clock())
        window = int(now) // WINDOW
        return window, (window + 1) * WINDOW - now

    def hit(self, key_id: str, limits: Limits) -> RateState:
        """Count one request of ``key_id`` if it is under both of ``limits``; else refuse it
        (``allowed`` false) and count nothing."""
        window, reset = self._window()
        return _state(limits, reset, *self._hit(key_id, window, limits))

    def add_tokens(self, key_id: str, tokens: int) -> None:
        """Add a settled request's tokens to ``key_id``'s count in this window."""
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise ValueError(f"tokens must be a non-negative integer, not {tokens!r}")
        if tokens:
            self._add_tokens(key_id, self._window()[0], tokens)

    @abstractmethod
    def _hit(self, key_id: str, window: int, limits: Limits) -> tuple[bool, int, int]: ...

    @abstractmethod
    def _add_tokens(self, key_id: str, window: int, tokens: int) -> None: ...


def _state(limits: Limits, reset: float, allowed: bool, requests: int, tokens: int) -> RateState:
    exceeded: Literal["requests", "tokens"] | None = None
    if not allowed:
        exceeded = "requests" if requests >= limits.requests_per_minute else "tokens"
    return RateState(allowed, limits, requests, tokens, reset, exceeded)


def _hit_args(limits: Limits) -> tuple[Any, ...]:
    """The script's arguments to count a request (its counters live two windows)."""
    return ("hit", limits.requests_per_minute, limits.tokens_per_minute, 2 * WINDOW)


def _tokens_args(tokens: int) -> tuple[Any, ...]:
    return ("tokens", tokens, 2 * WINDOW)


class LocalRateLimiter(RateLimiter):
    """Counts in this process (thread-safe); each process has its own."""

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], list[int]] = {}
        self._window_seen = -1

    def _slot(self, key_id: str, window: int) -> list[int]:
        if window != self._window_seen:  # a new minute: forget the older ones
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            self._window_seen = window
        return self._counts.setdefault((key_id, window), [0, 0])

    def _hit(self, key_id: str, window: int, limits: Limits) -> tuple[bool, int, int]:
        with self._lock:
            slot = self._slot(key_id, window)
            if slot[0] >= limits.requests_per_minute or slot[1] >= limits.tokens_per_minute:
                return False, slot[0], slot[1]
            slot[0] += 1
            return True, slot[0], slot[1]

    def _add_tokens(self, key_id: str, window: int, tokens: int) -> None:
        with self._lock:
            self._slot(key_id, window)[1] += tokens


class RedisRateLimiter(RateLimiter):
    """Counts in Redis, shared by every worker and replica: one script run per call."""

    def __init__(
        self,
        client_or_url: redis.Redis | str,
        clock: Clock | None = None,
        *,
        prefix: str = "venice:rate",
        socket_timeout: float = 5.0,
    ) -> None:
        super().__init__(clock)
        self._redis, self.client = redis_client(client_or_url, socket_timeout)
        self._errors = unavailable_errors(self._redis)
        self.prefix = prefix

    def script_call(self, key_id: str, window: int, *args: Any) -> tuple[Any, ...]:
        """The script's ``EVALSHA`` (its keys and ``args``) for ``key_id`` in ``window``."""
        keys = (f"{self.prefix}:{{{key_id}}}:{window}:r", f"{self.prefix}:{{{key_id}}}:{window}:t")
        return ("EVALSHA", _SHA, 2, *keys, *args)

    def hit_call(
        self, key_id: str, limits: Limits
    ) -> tuple[tuple[Any, ...], Callable[[list[Any]], RateState]]:
        """`hit` as a command to send and a function of its reply giving the `RateState`
        (for a caller with its own connection, such as the gateway's event loop)."""
        window, reset = self._window()
        call = self.script_call(key_id, window, *_hit_args(limits))

        def answer(reply: list[Any]) -> RateState:
            allowed, requests, tokens = (int(x) for x in reply)
            return _state(limits, reset, bool(allowed), requests, tokens)

        return call, answer

    def tokens_call(self, key_id: str, tokens: int) -> tuple[Any, ...]:
        """`add_tokens` as a command to send."""
        return self.script_call(key_id, self._window()[0], *_tokens_args(tokens))

    def _run(self, key_id: str, window: int, *args: Any) -> list[int]:
        _, _, _, *keys_and_args = self.script_call(key_id, window, *args)
        try:
            try:
                reply = self.client.evalsha(_SHA, 2, *keys_and_args)
            except self._redis.exceptions.NoScriptError:
                reply = self.client.eval(_LUA, 2, *keys_and_args)
        except self._errors as exc:
            raise LedgerUnavailable(f"redis unavailable while rate limiting: {exc}") from exc
        return [int(x) for x in reply]

    def _hit(self, key_id: str, window: int, limits: Limits) -> tuple[bool, int, int]:
        allowed, requests, tokens = self._run(key_id, window, *_hit_args(limits))
        return bool(allowed), requests, tokens

    def _add_tokens(self, key_id: str, window: int, tokens: int) -> None:
        self._run(key_id, window, *_tokens_args(tokens))

    def close(self) -> None:
        self.client.close()


_FIELDS = ("requests_per_minute", "tokens_per_minute")
_SECTIONS = ("default", "pro", "diem", "keys")


def _limits(where: str, entry: object, extra: tuple[str, ...] = ()) -> Limits:
    """An entry's `Limits`; a missing or unknown field (a typo) is named."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected requests_per_minute and tokens_per_minute")
    for name in entry:
        if name not in _FIELDS and name not in extra:
            raise ValueError(
                f"{where}: unknown field {name!r} (expected requests_per_minute and "
                "tokens_per_minute)"
            )
    counts = []
    for name in _FIELDS:  # (int() took 12.7 for 12, and .inf raised OverflowError)
        if name not in entry:
            raise ValueError(f"{where}: missing {name}")
        value = entry[name]
        digits = isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
        if digits or (isinstance(value, float) and value.is_integer()):  # ("60", 60.0, 5.0e+6)
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX:
            raise ValueError(
                f"{where}: {name} must be a whole number from 0 to {_MAX}, not {value!r}"
            )
        counts.append(value)
    return Limits(*counts)


@dataclass(frozen=True)
class RateLimitPolicy:
    """Which limits a key gets: ``per_key[key_id]``, else the highest ``diem`` tier whose
    minimum (wei of DIEM staked) the wallet meets, else ``pro`` for a Pro wallet, else
    ``default``."""

    default: Limits
    pro: Limits | None = None
    diem: tuple[tuple[int, Limits], ...] = ()
    per_key: Mapping[str, Limits] = field(default_factory=dict)

    def limits_for(self, key_id: str, *, pro: bool = False, diem_staked: int = 0) -> Limits:
        if key_id in self.per_key:
            return self.per_key[key_id]
        for minimum, limits in sorted(self.diem, key=lambda t: t[0], reverse=True):
            if diem_staked >= minimum:
                return limits
        if pro and self.pro is not None:
            return self.pro
        return self.default

    @classmethod
    def from_dict(cls, data: object) -> RateLimitPolicy:
        if not isinstance(data, Mapping) or "default" not in data:
            raise ValueError("a rate limit file needs a 'default' entry")
        for section in data:  # (a misspelt one was ignored: its limits never applied)
            if section not in _SECTIONS:
                raise ValueError(f"unknown section {section!r} (expected {', '.join(_SECTIONS)})")
        tiers = []
        if not isinstance(data.get("diem") or [], list):
            raise ValueError("'diem' must be a list of tiers, each with min_diem and the limits")
        for i, entry in enumerate(data.get("diem") or []):
            where = f"diem[{i}]"
            if not isinstance(entry, Mapping) or "min_diem" not in entry:
                raise ValueError(f"{where}: needs min_diem")
            try:
                minimum = parse_units(str(entry["min_diem"]), 18)
            except AmountError as exc:
                raise ValueError(f"{where}: min_diem: {exc}") from None
            tiers.append((minimum, _limits(where, entry, ("min_diem",))))
        keys = data.get("keys") or {}
        if not isinstance(keys, Mapping):
            raise ValueError("'keys' must map key ids to limits")
        return cls(
            default=_limits("default", data["default"]),
            pro=_limits("pro", data["pro"]) if data.get("pro") is not None else None,
            diem=tuple(tiers),
            per_key={str(k): _limits(f"keys.{k}", v) for k, v in keys.items()},
        )

    @classmethod
    def load(cls, path: str | Path) -> RateLimitPolicy:
        """Read a policy from a YAML (or JSON) file; a mistake names the entry."""
        yaml: Any = importlib.import_module("yaml")  # PyYAML ships no type stubs
        try:
            text = Path(path).read_text(encoding="utf-8")
            data = yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read rate limits from {path}: {exc}") from None
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
