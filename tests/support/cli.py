"""Running the scripts' click commands in-process, on the test session's Anvil (the command
tests and the governance test); and `ape run` against a node a test starts itself."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from ape import chain
from click.testing import CliRunner, Result

from venice_ops.paths import PROJECT_ROOT


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


def ape_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`ape run ARGS` in a subprocess, from the project root, with `env`."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("ape")), "run", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
