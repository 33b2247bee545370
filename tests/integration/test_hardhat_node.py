"""The deploy path on a second node implementation (issue 15 item 12): Hardhat's node from npm
(`hardhat node`, config in tests/support/hardhat/) stands in for a testnet. `ape run deploy
--network ethereum:local:http://...` deploys the suite to it; a stake, a DIEM mint, a
subscription paid with faucet USDC and the keeper (waiting for its TWAP, then buying back) run
against it; the SDK reads the entitlements from it."""

from __future__ import annotations

import os
import shutil

import pytest
from ape import networks

from scripts import diem, faucet, keeper, staker, subscribe
from tests.support.cli import ape_run, run_command, running_node
from venice_ops.bench.redis import free_port
from venice_ops.deploy.network import DevNode, use_dev_node
from venice_ops.paths import PROJECT_ROOT
from venice_sdk.entitlements import EntitlementClient

HARDHAT = PROJECT_ROOT / "node_modules" / ".bin" / "hardhat"
CONFIG = PROJECT_ROOT / "tests" / "support" / "hardhat" / "hardhat.config.js"
DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # TEST::0 on Anvil and Hardhat alike


def test_the_suite_on_a_hardhat_node(tmp_path):
    if shutil.which("node") is None or not HARDHAT.is_file():
        pytest.skip("Node.js or Hardhat is missing (`make setup` installs node_modules)")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    argv = [str(HARDHAT), "node", "--config", str(CONFIG), "--hostname", "127.0.0.1"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "VENICE_DEPLOYMENTS": str(tmp_path)}
    with running_node(
        [*argv, "--port", str(port)], uri, {**env, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    ):
        deployed = ape_run(env, "deploy", "--network", f"ethereum:local:{uri}")

        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert "Deployed on ethereum:local (chain 31337," in deployed.stdout
        manifest = tmp_path / "31337.json"

        # The commands in-process (as tests/cli runs them), on the Hardhat node.
        provider = use_dev_node(networks.get_provider_from_choice(f"ethereum:local:{uri}"))
        assert isinstance(provider, DevNode)
        with provider.network.use_provider(provider, disconnect_after=True):
            assert "HardhatNetwork" in provider.web3.client_version

            def run(command, *args: str) -> str:
                result = run_command(command.cli, tmp_path, *args)
                assert result.exit_code == 0, result.stdout + result.stderr
                return str(result.stdout)

            assert "staked 100 VVV" in run(staker, "stake", "100")
            assert "Locked 10 sVVV and minted" in run(diem, "mint", "10")
            assert "Minted $1,000.00 of test USDC" in run(faucet, "usdc", "1000")
            assert "Subscribed: paid $18.00" in run(subscribe, "pay", "pro", "1")
            assert "The TWAP is not usable yet (too fresh" in run(keeper, "--threshold", "1")
            # Half an hour later the TWAP is usable: the keeper buys with the $2 of revenue.
            provider.make_request("evm_increaseTime", [1_801])
            provider.make_request("evm_mine", [])
            bought = run(keeper, "--threshold", "1")
            assert "Bought back $2.00 of VVV and burned" in bought

        entitlement = EntitlementClient.from_manifest(manifest, uri).get(DEPLOYER)
        assert entitlement.staked == 100 * 10**18
        assert entitlement.locked == 10 * 10**18
        assert entitlement.pro_by_stake and entitlement.pro_by_subscription
