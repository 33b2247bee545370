"""The SDK installs alone, from the compatible ranges in pyproject.toml, into a fresh virtualenv.

No constraints file: pip resolves `[project].dependencies` as a user's server would (from the
index, through pip's cache). The project is copied first (pyproject.toml, README.md and
venice_sdk/), so the build leaves nothing in the worktree and only what the package declares
(its package data included) reaches the virtualenv. Skipped only when no package index answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Run in the fresh virtualenv: the SDK's modules import, its package files load, and the
# ledger, the price book and a wallet challenge work end to end without a chain.
SMOKE = """
import importlib.util, tempfile
import venice_sdk, venice_sdk.ledger, venice_sdk.auth, venice_sdk.entitlements, venice_sdk.gate
from eth_account import Account
from eth_account.messages import encode_defunct
from venice_sdk.auth import InMemoryChallengeStore, WalletChallenges
from venice_sdk.entitlements import load_abi
from venice_sdk.errors import Reason
from venice_sdk.ledger import SQLiteLedger
from venice_sdk.ledger.redis import _DEBIT_LUA
from venice_sdk.pricing import PriceBook

assert "redis.call" in _DEBIT_LUA
assert load_abi("EntitlementsLens")
assert PriceBook.default().price("qwen3-4b", 1_000, 1_000, 0) > 0
with tempfile.TemporaryDirectory() as tmp:
    with SQLiteLedger(tmp + "/ledger.sqlite3", clock=lambda: 86_400.0) as ledger:
        assert ledger.debit("vvk_id", 5, 7).allowed
        refused = ledger.debit("vvk_id", 5, 7)
        assert refused.reason == Reason.INSUFFICIENT_CREDIT == "insufficient_credit"
wallet = Account.create()
challenges = WalletChallenges("api.example", InMemoryChallengeStore())
issued = challenges.issue_challenge(wallet.address)
signature = wallet.sign_message(encode_defunct(text=issued.message)).signature
assert challenges.verify_challenge(wallet.address, signature.hex()) == wallet.address
for heavy in ("ape", "ape_test", "vyper", "redis", "fastapi"):
    assert importlib.util.find_spec(heavy) is None, heavy + " was installed with the SDK"
print("ok")
"""


def _index_url() -> str:
    """The index pip would ask (PIP_INDEX_URL, else pip's configuration, else PyPI)."""
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
        )
        url = out.stdout.strip() if out.returncode == 0 else ""
    return (url or "https://pypi.org/simple").rstrip("/")


def _index_reachable(url: str) -> str | None:
    """None when the index answers, else why not."""
    try:
        with urllib.request.urlopen(f"{url}/pyyaml/", timeout=15) as reply:
            reply.read(1)
    except (urllib.error.URLError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def test_sdk_installs_alone_from_its_ranges(tmp_path: Path) -> None:
    url = _index_url()
    why = _index_reachable(url)
    if why is not None:
        pytest.skip(f"pip cannot reach the package index {url} ({why})")

    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(
        ROOT / "venice_sdk", source / "venice_sdk", ignore=shutil.ignore_patterns("__pycache__")
    )

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)  # the running pip installs into it (--python)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in {"PIP_CONSTRAINT", "PYTHONPATH"}}
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",  # bytecode is written on first import anyway; saves seconds here
            str(source),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    listed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "list", "--format=freeze"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.lower()
    assert "venice-sdk==0.1.0" in listed or "venice_sdk==0.1.0" in listed, listed
    assert "eth-ape" not in listed, listed

    smoke = subprocess.run(
        [str(python), "-c", SMOKE],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # not the worktree: the import must come from the virtualenv
        timeout=300,
    )
    assert smoke.returncode == 0 and smoke.stdout.strip() == "ok", smoke.stdout + smoke.stderr
