"""`venice-sdk serve`'s settings (command line > VENICE_* > config file > default) and the
sidecar's error answers, without a chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from venice_sdk.cli import parser
from venice_sdk.server.errors import install_error_handlers
from venice_sdk.server.middleware import AdminGuard, BodyLimit
from venice_sdk.server.settings import SettingsError, is_loopback, resolve


def settings(argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    return resolve(parser().parse_args(["serve", *argv]), environ=env or {})


BASE = ["--manifest", "m.json", "--rpc", "http://node"]


def test_defaults() -> None:
    s = settings(BASE)
    assert s["body_limit"] == 65_536 and s["rpc_timeout"] == 0.5 and s["rpc_retries"] == 1
    assert s["admin_token"] is None and s["allow_wallet_authorize"] is False
    assert s["siwe_domain"] == "localhost" and s["log_format"] == "text"
    assert s["hold_ttl"] == 900.0


def test_command_line_beats_environment_beats_file(tmp_path: Path) -> None:
    toml = tmp_path / "venice.toml"
    toml.write_text(
        '[serve]\nmanifest = "f.json"\nrpc = "http://file"\nport = 1111\nbody_limit = 2048\n'
        'fail_open = true\nsiwe_uri = "https://file/"\n'
    )
    env = {"VENICE_PORT": "2222", "VENICE_BODY_LIMIT": "4096", "VENICE_FAIL_OPEN": "no"}
    s = settings(["--config", str(toml), "--port", "3333"], env)
    assert s["port"] == 3333  # command line
    assert s["body_limit"] == 4096 and s["fail_open"] is False  # environment
    assert s["manifest"] == "f.json" and s["siwe_uri"] == "https://file/"  # file
    assert s["ttl"] == 2.0  # default


def test_yaml_file_and_config_from_the_environment(tmp_path: Path) -> None:
    yaml = tmp_path / "venice.yaml"
    yaml.write_text("manifest: y.json\nrpc: http://yaml\nallow_wallet_authorize: true\n")
    s = settings([], {"VENICE_CONFIG": str(yaml), "VENICE_ADMIN_TOKEN": "a-long-enough-secret"})
    assert s["manifest"] == "y.json" and s["allow_wallet_authorize"] is True
    assert s["admin_token"] == "a-long-enough-secret"


@pytest.mark.parametrize(
    ("argv", "env", "file", "message"),
    [
        ([], {}, None, "--manifest is required"),
        (BASE, {"VENICE_PORT": "eighty"}, None, "port from VENICE_PORT"),
        (BASE, {"VENICE_FAIL_OPEN": "maybe"}, None, "not true or false"),
        (BASE, {}, "port = true\n", "True is not a whole number"),
        (BASE, {}, "ttl = [2]\n", "is not a number"),
        (BASE, {"VENICE_TTL": "1,5"}, None, "'1,5' is not a number \\(decimals take a dot"),
        ([*BASE, "--hold-ttl", "0,5"], {}, None, "hold_ttl from --hold-ttl: '0,5' is not a number"),
        (BASE, {}, "prot = 1\n", "unknown settings"),
        (BASE, {}, "port = [\n", "does not parse"),
        ([*BASE, "--log-format", "xml"], {}, None, "not one of text, json"),
        ([*BASE, "--body-limit", "0"], {}, None, "at least 1"),
        (
            [*BASE, "--hold-ttl", "0"],
            {},
            None,
            "hold_ttl from --hold-ttl: must be at least 1",
        ),
        (
            BASE,
            {"VENICE_HOLD_TTL": "1e9"},
            None,
            "hold_ttl from VENICE_HOLD_TTL: must be at most 604800",
        ),
        ([*BASE, "--hold-ttl", "nan"], {}, None, "hold_ttl from --hold-ttl: nan is not a number"),
        (BASE, {}, "ttl = nan\n", "ttl from .*: nan is not a number"),
        (BASE, {"VENICE_ADMIN_TOKEN": "short"}, None, "at least 16 characters"),
    ],
)
def test_bad_settings_say_what_and_where(
    tmp_path: Path, argv: list[str], env: dict[str, str], file: str | None, message: str
) -> None:
    if file is not None:
        path = tmp_path / "bad.toml"
        path.write_text(file)
        argv = [*argv, "--config", str(path)]
    with pytest.raises(SettingsError, match=message):
        settings(argv, env)


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")


def app() -> FastAPI:
    application = FastAPI()

    @application.post("/v1/authorize")
    def authorize(body: dict[str, int]) -> dict[str, int]:
        return body

    @application.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    application.add_middleware(BodyLimit, max_bytes=100)
    application.add_middleware(AdminGuard, token="t0ken")
    install_error_handlers(application)
    return application


def test_an_unexpected_error_is_a_500_json_without_a_traceback() -> None:
    answer = TestClient(app(), raise_server_exceptions=False).get("/boom")
    assert answer.status_code == 500
    assert answer.json() == {
        "code": "internal_error",
        "message": "internal error (see the server's log)",
    }


def test_body_limit_and_admin_token_in_process() -> None:
    http = TestClient(app())
    ok = http.post("/v1/authorize", json={"a": 1}, headers={"Authorization": "Bearer t0ken"})
    assert ok.status_code == 200
    assert http.post("/v1/authorize", json={"a": 1}).status_code == 401
    big = http.post(
        "/v1/authorize", json={"a": 1, "b": 10**200}, headers={"X-Venice-Admin-Token": "t0ken"}
    )
    assert big.status_code == 413 and big.json()["code"] == "body_too_large"
    bad = http.post("/v1/authorize", content=b"{", headers={"X-Venice-Admin-Token": "t0ken"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


def test_json_log_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import logging

    from venice_sdk.server.logs import configure_logging
    from venice_sdk.server.middleware import RequestContext

    application = app()
    application.add_middleware(RequestContext)
    configure_logging("info", "json")
    try:
        answer = TestClient(application, raise_server_exceptions=False).get(
            "/boom", headers={"X-Request-Id": "req-42"}
        )
    finally:
        for name in ("venice_sdk", "uvicorn", "uvicorn.error"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
    assert answer.status_code == 500
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    error = next(line for line in lines if line["logger"] == "venice_sdk.service")
    assert error["level"] == "error" and "secret detail" in error["exception"]
    assert error["request_id"] == "req-42"
    access = next(line for line in lines if line["logger"] == "venice_sdk.access")
    assert access["status"] == 500 and access["path"] == "/boom"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--prices", "/nonexistent/prices.yaml"], "cannot read price book /nonexistent/"),
        (["--prices", "TYPO"], "unknown field 'input_per_milion'"),
        (["--redis-url", "redis:/127.0.0.1:6379"], "is not a Redis URL"),
        (["--redis-url", "127.0.0.1:6379"], "write redis://HOST:PORT/DB"),
        (["--prices", "LATIN1"], "prices.txt is not UTF-8 text"),
        (["--rpc", "localhost:8545"], "--rpc must be the node's http(s) URL"),
        (["--rpc", "http://[::1:8545"], "--rpc must be the node's http(s) URL"),
        (["--rpc", "http://127.0.0.1:85x"], "--rpc must be the node's http(s) URL"),
    ],
)
def test_serve_says_a_bad_file_or_url_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """A price book with a typo, a missing one or a mistyped Redis URL: one ``error:`` line and
    exit code 1, not a traceback (the price book is read before the node is asked anything)."""
    from venice_sdk.cli import main

    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"contracts": {"EntitlementsLens": {"address": "0x' + "e1" * 20 + '"}}}')
    typo = tmp_path / "prices.yaml"
    typo.write_text('models:\n  small:\n    input_per_milion: "1"\n    output_per_million: "1"\n')
    latin1 = tmp_path / "prices.txt"
    latin1.write_bytes("models:\n  café: {}\n".encode("latin-1"))
    argv = [{"TYPO": str(typo), "LATIN1": str(latin1)}.get(a, a) for a in argv]
    base = ["serve", "--manifest", str(manifest), "--rpc", "http://127.0.0.1:1"]
    assert main([*base, "--data-dir", str(tmp_path / "d"), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
