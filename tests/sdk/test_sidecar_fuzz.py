"""schemathesis against the live sidecar's own OpenAPI spec (issue 13): generated requests,
valid and invalid, to every route, with the admin token; zero 5xx answers, and every answer
(status, content type, headers, body) is one the spec lists."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.sidecar import Sidecar, started

TOKEN = "fuzz-admin-token-0123456789"
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)


@pytest.fixture(scope="module")
def sidecar(
    suite: Any, config: Any, chain: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sidecar]:
    from venice_ops.deploy.suite import write_manifest

    manifest = Path(write_manifest(suite, config, tmp_path_factory.mktemp("manifest")))
    with started(
        Sidecar(
            manifest,
            str(chain.provider.http_uri),
            tmp_path_factory.mktemp("sidecar"),
            *("--admin-token", TOKEN, "--ttl", "3600", "--siwe-domain", "venice.test"),
        )
    ) as server:
        yield server


def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    sidecar: Sidecar, tmp_path: Path
) -> None:
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    done = subprocess.run(
        [
            *(binary, "run", f"{sidecar.url}/openapi.json"),
            *("--checks", CHECKS, "--max-examples", "50", "--seed", "13", "--workers", "1"),
            *("--phases", "examples,coverage,fuzzing"),
            *("--header", f"Authorization: Bearer {TOKEN}", "--request-timeout", "10"),
            *("--suppress-health-check", "all", "--no-color"),
        ],
        cwd=tmp_path,  # its .schemathesis/ cache goes there
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
