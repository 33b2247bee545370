"""`venice-sdk serve`'s settings: each option from the command line, an environment variable
(``VENICE_<NAME>``) or a config file (``--config venice.toml``, ``.yaml`` or ``.yml``; the
keys at the top level or under ``[serve]``), in that order of precedence, else its default.

`SERVE_OPTIONS` lists every option once; `add_arguments` puts them on an argparse parser and
`resolve` merges the sources into a `dict` keyed by option name. A bad value from any source
is a `SettingsError` naming where it came from.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from venice_sdk.ledger.base import HOLD_TTL, MAX_HOLD_TTL

__all__ = [
    "ENV_PREFIX",
    "KEEP_ALIVE",
    "SERVE_OPTIONS",
    "Option",
    "SettingsError",
    "add_arguments",
    "is_loopback",
    "resolve",
]

ENV_PREFIX = "VENICE_"

#: Seconds an idle keep-alive connection is kept open, by the sidecar and the gateway. Longer
#: than the idle expiry of the usual clients' pools (5 s in httpx and the ``openai`` client,
#: 15 s in aiohttp), so such a client closes an idle connection before the server does: with
#: uvicorn's own 5 s both sides close at the same moment, and a request sent just then fails
#: with "server disconnected" without the server ever seeing it.
KEEP_ALIVE = 20.0


class SettingsError(ValueError):
    """A missing or bad setting; the message says which and where from."""


@dataclass(frozen=True)
class Option:
    name: str  # snake_case: the config-file key; the flag is --name-with-dashes
    kind: type  # str, int, float or bool
    default: Any
    help: str
    aliases: tuple[str, ...] = ()  # more flags
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    min_length: int = 0  # for text: e.g. a secret long enough not to be guessed

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SERVE_OPTIONS: tuple[Option, ...] = (
    Option("manifest", str, None, "deployments/<chain_id>.json", required=True),
    Option("rpc", str, None, "the node's HTTP URL", required=True),
    Option("ttl", float, 2.0, "seconds an entitlement stays cached", minimum=0),
    Option("grace", float, 60.0, "seconds a cached entry may be served stale if the node fails"),
    Option("fail_open", bool, False, "past the grace, answer 'degraded' instead of refusing"),
    Option("confirmations", int, 0, "read this many blocks behind the head", minimum=0),
    Option("block_tag", str, "latest", "block to read", choices=("latest", "safe", "finalized")),
    Option("rpc_timeout", float, 0.5, "seconds per RPC attempt", minimum=0.001),
    Option("rpc_retries", int, 1, "RPC attempts after the first", minimum=0),
    Option(
        "breaker_cooloff", float, 2.0, "seconds the node is left alone after it fails", minimum=0
    ),
    Option("host", str, "127.0.0.1", "address to listen on"),
    Option("port", int, 8787, "port to listen on", minimum=1),
    Option(
        "keep_alive",
        float,
        KEEP_ALIVE,
        "seconds an idle keep-alive connection stays open (longer than the clients' pools keep"
        " theirs)",
        minimum=0.1,
    ),
    Option("data_dir", str, ".venice", "directory of the SQLite files"),
    Option("redis_url", str, None, "share the ledger, challenges and API keys through Redis"),
    Option("redis_timeout", float, 0.5, "Redis connect and read timeout, seconds", minimum=0.001),
    Option(
        "ledger_retry_for",
        float,
        1.0,
        "seconds a debit is retried before a 503 ledger_unavailable",
        minimum=0,
    ),
    Option(
        "hold_ttl",
        float,
        HOLD_TTL,
        "seconds a hold keeps its credit unless renewed (/v1/renew): how long the holds of a"
        " server that died stay held",
        minimum=1,
        maximum=MAX_HOLD_TTL,
    ),
    Option(
        "key_store",
        str,
        None,
        "where API keys live (default: redis with --redis-url, else sqlite)",
        choices=("sqlite", "redis"),
    ),
    Option("prices", str, None, "a price book file (default: the bundled one)"),
    Option("siwe_domain", str, "localhost", "the sign-in domain", aliases=("--domain",)),
    Option("siwe_uri", str, None, "the SIWE URI checked (default https://<siwe_domain>)"),
    Option(
        "authorize_batch",
        int,
        64,
        "most concurrent authorize requests decided together (1: one by one)",
        minimum=1,
    ),
    Option(
        "admin_token",
        str,
        None,
        "required on internal routes (/v1/authorize, /v1/entitlements, /metrics, /readyz);"
        " at least 16 characters",
        min_length=16,
    ),
    Option(
        "allow_wallet_authorize",
        bool,
        False,
        "let /v1/authorize take a bare wallet address (trusted callers only)",
    ),
    Option("body_limit", int, 64 * 1024, "largest request body in bytes", minimum=1),
    Option("key_pepper", str, None, "a server secret mixed into stored API-key hashes"),
    Option("log_level", str, "warning", "log level", choices=("debug", "info", "warning", "error")),
    Option("log_format", str, "text", "log format", choices=("text", "json")),
)


def add_arguments(parser: argparse.ArgumentParser, options: tuple[Option, ...]) -> None:
    """One flag per option, absent unless given (so the other sources can fill it)."""
    parser.add_argument(
        "--config", default=argparse.SUPPRESS, help="a TOML or YAML settings file (VENICE_CONFIG)"
    )
    for option in options:
        where = f"{option.env}; default {option.default}"
        kwargs: dict[str, Any] = {"dest": option.name, "default": argparse.SUPPRESS}
        if option.kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["metavar"] = option.name.upper()
        parser.add_argument(option.flag, *option.aliases, help=f"{option.help} ({where})", **kwargs)


def _load_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"cannot read the config file {path}: {exc.strerror}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except Exception as exc:
        raise SettingsError(f"the config file {path} does not parse: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SettingsError(f"the config file {path} is not a table of settings")
    if isinstance(data.get("serve"), dict):
        data = data["serve"]
    return {str(key): value for key, value in data.items()}


def _kind_name(kind: type) -> str:
    """A setting's type as its error message says it."""
    return {int: "a whole number", float: "a number", bool: "true or false", str: "text"}.get(
        kind, kind.__name__
    )


def _coerce(option: Option, value: Any, where: str) -> Any:
    kind = option.kind
    if value is None:
        return None
    if isinstance(value, str) and kind is not str:  # from the environment
        text = value.strip()
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise SettingsError(f"{option.name} from {where}: {value!r} is not true or false")
        try:
            value = kind(text)
        except ValueError:
            hint = " (decimals take a dot: 1.5)" if "," in text else ""
            raise SettingsError(
                f"{option.name} from {where}: {value!r} is not {_kind_name(kind)}{hint}"
            ) from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise SettingsError(f"{option.name} from {where}: {value!r} is not {_kind_name(kind)}")
    if isinstance(value, float) and math.isnan(value):  # (it passes every bound below)
        raise SettingsError(f"{option.name} from {where}: nan is not a number")
    if option.choices and value not in option.choices:
        raise SettingsError(
            f"{option.name} from {where}: {value!r} is not one of {', '.join(option.choices)}"
        )
    if isinstance(value, str) and len(value) < option.min_length:
        raise SettingsError(
            f"{option.name} from {where}: must be at least {option.min_length} characters"
        )
    if option.minimum is not None and isinstance(value, int | float) and value < option.minimum:
        raise SettingsError(f"{option.name} from {where}: must be at least {option.minimum}")
    if option.maximum is not None and isinstance(value, int | float) and value > option.maximum:
        raise SettingsError(f"{option.name} from {where}: must be at most {option.maximum:g}")
    return value


def resolve(
    args: argparse.Namespace,
    options: tuple[Option, ...] = SERVE_OPTIONS,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Each option's value: command line, else ``VENICE_<NAME>``, else the config file, else
    the default. Raises `SettingsError` for a bad value, an unknown key in the file, or a
    required option given nowhere."""
    env = os.environ if environ is None else environ
    given = vars(args)
    config = given.get("config") or env.get(ENV_PREFIX + "CONFIG")
    from_file: dict[str, Any] = {}
    if config:
        from_file = _load_file(Path(config))
        known = {option.name for option in options}
        unknown = sorted(set(from_file) - known)
        if unknown:
            raise SettingsError(f"unknown settings in {config}: {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for option in options:
        where = option.flag
        if option.name in given:
            value = _coerce(option, given[option.name], where)
        elif option.env in env:
            where = option.env
            value = _coerce(option, env[option.env], where)
        elif option.name in from_file:
            where = str(config)
            value = _coerce(option, from_file[option.name], where)
        else:
            value = option.default
        if option.name == "redis_url" and value:
            _check_redis_url(value, where)
        if value is None and option.required:
            raise SettingsError(
                f"{option.flag} is required (or {option.env}, or {option.name} in --config)"
            )
        out[option.name] = value
    return out


def _check_redis_url(url: str, where: str) -> None:
    """A ``redis_url`` the client cannot parse, as a `SettingsError` (not a traceback later)."""
    try:
        from venice_sdk.ledger.connections import check_redis_url

        check_redis_url(url)
    except ImportError:  # (no redis installed: the server says so when it opens it)
        return
    except ValueError as exc:
        raise SettingsError(f"redis_url from {where}: {exc}") from None


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
