"""Local or live (`venice_ops/deploy/network.py`, issue 15 item 3): a loopback node or chain id
31337/1337 is local, a live chain id is live whatever the URI; and `ape run deploy --network
http://HOST:PORT`, the README's own words, deploys to a node started by hand."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.cli import ape_run, running_anvil
from venice_ops.deploy.config import ConfigError
from venice_ops.deploy.network import is_live_chain_id, is_local, is_local_chain, is_loopback
from venice_ops.deploy.suite import check_governance


@pytest.mark.parametrize(
    "network, chain_id, uri, local",
    [
        ("local", 31_337, "http://127.0.0.1:8545", True),
        ("custom", 31_337, "http://10.0.0.5:8545", True),  # a dev chain id anywhere
        ("custom", 1_337, "https://devnet.example.com", True),
        ("custom", 424_242, "http://127.0.0.1:8599", True),  # loopback, unknown chain id
        ("custom", 424_242, "http://localhost:8599", True),
        ("custom", 424_242, "http://[::1]:8599", True),
        ("custom", 424_242, "https://rpc.example.com", False),  # not loopback
        ("custom", 424_242, None, False),
        ("custom", 8_453, "http://127.0.0.1:8545", False),  # Base mainnet on loopback: live
        ("local", 1, "http://127.0.0.1:8545", False),  # a live chain id is live
        ("custom", 11_155_111, "http://127.0.0.1:8545", False),
        ("mainnet-fork", 1, "http://127.0.0.1:8545", True),  # ape's own fork networks
    ],
)
def test_is_local(network, chain_id, uri, local):
    assert is_local(network, chain_id, uri) is local


def test_is_loopback_and_live_chain_ids():
    assert is_loopback("http://127.0.0.1:8545") and is_loopback("ws://127.5.0.1")
    assert not is_loopback("http://192.168.1.10:8545") and not is_loopback(None)
    assert is_live_chain_id(1) and is_live_chain_id(84_532)
    assert not is_live_chain_id(31_337) and not is_live_chain_id(424_242)


def test_the_test_session_anvil_is_local():
    assert is_local_chain()


def test_check_governance__by_the_chain_not_the_name(config):
    assert not config.governance.timelock
    check_governance(config, "custom", live=False)  # a loopback node reached by its URI
    with pytest.raises(ConfigError, match=r"must be true on a live network \(custom\)"):
        check_governance(config, "custom", live=True)


################################################################
#              `ape run deploy --network http://...`           #
################################################################


def test_deploy__to_a_node_by_its_uri(tmp_path):
    with running_anvil() as uri:
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "VENICE_DEPLOYMENTS": str(tmp_path)}

        deployed = ape_run(env, "deploy", "--network", uri)

        assert deployed.returncode == 0, deployed.stderr
        assert "governance.timelock" not in deployed.stderr
        assert "(chain 31337," in deployed.stdout
        assert json.loads((tmp_path / "31337.json").read_text())["deployer"]
        # The same node as ape's local network with its URI: the commands read the deploy.
        status = ape_run(env, "faucet", "usdc", "1000", "--network", f"ethereum:local:{uri}")
        assert status.returncode == 0, status.stderr
        assert "Minted $1,000.00 of test USDC" in status.stdout
        # Through `ape run` itself (not click's test runner): a usage error exits 1 too.
        usage = ape_run(env, "staker", "stake", "--network", uri)
        assert usage.returncode == 1, usage.stdout + usage.stderr
        assert "error: Missing argument 'AMOUNT'. (see `ape run staker stake --help`)" in (
            usage.stderr
        )
        assert "Usage:" not in usage.stderr + usage.stdout
