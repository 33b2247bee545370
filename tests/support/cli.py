"""Running the scripts' click commands in-process, on the test session's Anvil (the command
tests and the governance test); and `ape run` against a node a test starts itself."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pytest
from ape import chain
from click.testing import CliRunner, Result

from venice_ops.bench.redis import free_port
from venice_ops.paths import PROJECT_ROOT

NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"


def run_command(command: click.Command, manifests: Path, *args: str) -> Result:
    """Run a script's command in-process with `--deployments manifests`."""
    # Handed the connected provider, ape's ConnectedProviderCommand uses this session's
    # Anvil instead of starting another one.
    result = CliRunner(mix_stderr=False).invoke(
        command, [*args, "--deployments", str(manifests)], obj={"provider": chain.provider}
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def command_fixture(command: click.Command) -> Any:
    """A fixture (bind it to a name in a test module) that runs ``command`` in-process:
    ``run(manifests, *args)``."""

    @pytest.fixture
    def fixture() -> Callable[..., Result]:
        return functools.partial(run_command, command)

    return fixture


def one_error_line(result: Result, message: str) -> None:
    """A user mistake: exit 1, one `error:` line holding `message`, no traceback."""
    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def ape_run(
    env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`ape run ARGS` in the project, as a user runs it, with ``env``; its output captured."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("ape")), "run", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def node_ready(uri: str) -> bool:
    """Whether a JSON-RPC node answers `eth_chainId` at `uri` (for tests that start one)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(
        uri, body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return bool(json.load(response).get("result"))
    except OSError:
        return False


@contextmanager
def running_node(argv: list[str], uri: str, env: dict[str, str] | None = None) -> Iterator[None]:
    """Start a node (`argv`, e.g. Anvil or Hardhat's on a free port), wait until it answers at
    `uri`, and stop it on leaving."""
    process = subprocess.Popen(
        argv, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not node_ready(uri):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{Path(argv[0]).name} did not start on {uri}")
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def running_anvil() -> Iterator[str]:
    """An Anvil (node_modules/.bin's first) started the way a user starts one, on a free port;
    yields its URI once it answers, stops it on leaving; skips the test without anvil."""
    anvil = shutil.which("anvil", path=f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if anvil is None:
        pytest.skip("anvil is not installed (npm ci)")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    with running_node([anvil, "--port", str(port)], uri):
        yield uri
