"""The deploy command in-process: the manifest, the summary, and the user's mistakes."""

from __future__ import annotations

import json

from ape import chain
from venice_ops.paths import DEFAULT_CONFIG

from scripts.deploy import cli as deploy


def test_deploy__writes_the_manifest_and_a_summary(invoke, tmp_path, accounts):
    result = invoke(deploy, tmp_path)

    assert result.exit_code == 0, result.stderr
    manifest = json.loads((tmp_path / f"{chain.chain_id}.json").read_text())
    assert manifest["chain_id"] == chain.chain_id
    assert manifest["roles"]["owner"] == accounts[0].address
    for name in ("VVV", "EmissionsController", "StakedVVV"):
        assert f"{name} " in result.stdout
        assert manifest["contracts"][name]["address"] in result.stdout
    assert f"Manifest: {tmp_path / f'{chain.chain_id}.json'}" in result.stdout


def test_deploy__refuses_to_replace_a_live_deployment_unless_forced(invoke, tmp_path, owner):
    assert invoke(deploy, tmp_path).exit_code == 0
    nonce = owner.nonce

    again = invoke(deploy, tmp_path)

    assert again.exit_code == 1
    assert "is live on chain 31337; pass --force to replace it" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert owner.nonce == nonce  # refused before deploying anything
    assert invoke(deploy, tmp_path, "--force").exit_code == 0


def test_deploy__replaces_a_dead_manifest_at_the_addresses_it_deploys_to(invoke, tmp_path, owner):
    # A dev chain restarted since the last deploy: the same deployer at the same nonces lands
    # on the old manifest's addresses, which must not then read as a live deployment.
    nonce = owner.nonce
    stale = {
        "chain_id": chain.chain_id,
        "contracts": {
            name: {"address": owner.get_deployment_address(nonce + i)}
            for i, name in enumerate(("VVV", "EmissionsController", "StakedVVV"))
        },
    }
    (tmp_path / f"{chain.chain_id}.json").write_text(json.dumps(stale))

    result = invoke(deploy, tmp_path)

    assert result.exit_code == 0, result.stderr
    manifest = json.loads((tmp_path / f"{chain.chain_id}.json").read_text())
    assert manifest["contracts"]["VVV"]["address"] == stale["contracts"]["VVV"]["address"]
    assert "abi" in manifest["contracts"]["VVV"]


def test_deploy__config_mistakes_are_one_line(invoke, tmp_path):
    missing = invoke(deploy, tmp_path, "--config", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1
    assert "error: config file" in missing.stderr and "does not exist" in missing.stderr

    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {DEFAULT_CONFIG}\nemissions: {{annual_rate: 20_000_000}}\n")
    above_cap = invoke(deploy, tmp_path, "--config", str(bad))
    assert above_cap.exit_code == 1
    assert "emissions.annual_rate: is above emissions.max_annual" in above_cap.stderr
    assert "Traceback" not in above_cap.stderr

    huge = tmp_path / "huge.yaml"
    huge.write_text(f"extends: {DEFAULT_CONFIG}\nemissions: {{max_annual: 600_000_000}}\n")
    huge_cap = invoke(deploy, tmp_path, "--config", str(huge))
    assert huge_cap.exit_code == 1
    assert "emissions.max_annual: is above 581,736,521 VVV a year" in huge_cap.stderr
    assert not (tmp_path / f"{chain.chain_id}.json").exists()
