"""Governance through the timelock: a deploy with `governance.timelock: true` hands every owned
contract to snekmate's TimelockController, and a parameter change then goes through propose
(schedule), wait and execute, never sooner, while the old owner can change nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import NamedTuple

import ape
import pytest
import yaml
from ape import chain

from scripts.deploy import cli as deploy
from tests.support.cli import run_command
from tests.support.constants import VVV
from venice_ops.deploy.config import ANYONE, ConfigError, Governance, load_config
from venice_ops.deploy.suite import (
    OWNED_NAMES,
    ZERO_ADDRESS,
    Suite,
    check_governance,
    hand_over_to_timelock,
    load_suite,
    manifest_path,
)
from venice_ops.paths import DEFAULT_CONFIG
from venice_ops.rpc import Reverted, bind, send

DELAY = 8 * 86_400
ZERO_SALT = b"\x00" * 32
NOT_READY = "timelock_controller: operation is not ready"
MISSING_ROLE = "access_control: account is missing role"
NOT_OWNER = "ownable: caller is not the owner"
NOT_NEW_OWNER = "ownable_2step: caller is not the new owner"


def _config(tmp_path: Path, governance: dict, **sections) -> Path:
    path = tmp_path / "gov.yaml"
    path.write_text(
        yaml.safe_dump({"extends": str(DEFAULT_CONFIG), "governance": governance, **sections})
    )
    return path


# ---------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("governance", "message"),
    [
        ({"min_delay": 60}, "governance.min_delay: 60 is out of range (3600..2592000)"),
        ({"min_delay": 31 * 86_400}, "governance.min_delay: 2678400 is out of range"),
        ({"min_delay": "2 days"}, "governance.min_delay: expected a whole number, got '2 days'"),
        ({"proposers": []}, "governance.proposers: expected a non-empty list of role names"),
        ({"proposers": None}, "governance.proposers: expected a non-empty list of role names"),
        ({"executors": []}, "governance.executors: expected a non-empty list of role names"),
        ({"proposers": ["nobody"]}, "governance.proposers[0]: 'nobody' is not one of role names"),
        ({"proposers": ["owner", "anyone"]}, "governance.proposers[1]: 'anyone' is not one of"),
        ({"executors": ["0x1234"]}, "governance.executors[0]: '0x1234' is not one of"),
        ({"timelock": "yes"}, "governance.timelock: expected true or false, got 'yes'"),
    ],
)
def test_config__bad_governance__names_the_field(tmp_path, governance, message):
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, {"timelock": True, **governance}))
    assert str(info.value).startswith(f"{tmp_path / 'gov.yaml'}: ")
    assert message in str(info.value)


def test_config__live_market_without_timelock__refused(tmp_path):
    router = "0x4752ba5DBc23f44D87826276BF6Fd6b1C372aD24"
    usdc = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
    market = {"value_capture": {"router": router, "usdc": usdc}}
    with pytest.raises(ConfigError, match=r"governance.timelock: must be true in a config for a"):
        load_config(_config(tmp_path, {"timelock": False}, **market))
    live = load_config(_config(tmp_path, {"timelock": True, "executors": ["anyone"]}, **market))
    assert live.governance.timelock and live.governance.executors == ["anyone"]
    assert live.governance.min_delay == DELAY  # the default's eight days


@pytest.mark.parametrize("network", ["mainnet", "sepolia"])
def test_deploy__live_network_without_timelock__refused(config, network):
    assert not config.governance.timelock  # the local default keeps the account owner
    with pytest.raises(ConfigError, match=rf"must be true on a live network \({network}\)"):
        check_governance(config, network)
    for local in ("local", "mainnet-fork"):
        check_governance(config, local)


# ---------------------------------------------------------------------------- on Anvil


class Governed(NamedTuple):
    suite: Suite
    manifest: Path
    stdout: str


@pytest.fixture(scope="module")
def governed(tmp_path_factory, owner, alice, bob, attacker) -> Governed:
    """`ape run deploy` with a timelock config: alice (test:3) proposes and cancels, bob
    (test:4) executes; the suite as the commands bind it from the manifest written. (It asks
    for the session accounts the module uses: one first requested later makes ape set up
    the module's fixtures again.)"""
    directory = tmp_path_factory.mktemp("governed")
    governance = {
        "timelock": True,
        "min_delay": DELAY,
        "proposers": ["test:3"],
        "executors": ["test:4"],
    }
    config = _config(directory, governance, roles={"treasury": "test:1", "oracle": "test:2"})
    result = run_command(deploy, directory, "--config", str(config))
    assert result.exit_code == 0, result.stderr
    return Governed(load_suite(directory), manifest_path(chain.chain_id, directory), result.stdout)


@pytest.fixture
def timelock(governed):
    return governed.suite.timelock


def _propose(timelock, target, payload, proposer, delay=DELAY, salt=ZERO_SALT):
    """Schedule one call; the arguments `execute` takes for it."""
    call = (target.address, 0, payload, ZERO_SALT, salt)
    timelock.schedule(*call, delay, sender=proposer)
    return call


def test_deploy__every_owned_contract_is_the_timelocks(governed, owner, alice, bob, chain):
    suite, manifest, stdout = governed
    timelock = suite.timelock
    assert set(suite.owned()) == set(OWNED_NAMES)
    for name, contract in suite.contracts().items():
        # The local test USDC mints for tests; a live deploy names the real USDC.
        if "owner" not in contract.contract_type.view_methods or name == "USDC":
            continue
        # Owned contracts went to the timelock, the tokens renounced theirs at construction.
        expected = timelock.address if name in OWNED_NAMES else ZERO_ADDRESS
        assert contract.owner() == expected, name
        if "pending_owner" in contract.contract_type.view_methods:
            assert contract.pending_owner() == ZERO_ADDRESS, name

    roles = {
        "admin": timelock.DEFAULT_ADMIN_ROLE(),
        "proposer": timelock.PROPOSER_ROLE(),
        "canceller": timelock.CANCELLER_ROLE(),
        "executor": timelock.EXECUTOR_ROLE(),
    }
    holders = {
        "admin": {timelock.address},
        "proposer": {alice.address},
        "canceller": {alice.address},
        "executor": {bob.address},
    }
    for role, role_id in roles.items():
        for account in (owner.address, alice.address, bob.address, timelock.address, ZERO_ADDRESS):
            assert timelock.hasRole(role_id, account) == (account in holders[role]), (role, account)
    assert timelock.get_minimum_delay() == DELAY

    data = json.loads(manifest.read_text())
    assert data["contracts"]["Timelock"]["address"] == timelock.address
    assert data["roles"]["owner"] == timelock.address
    assert data["governance"] == {
        "timelock": timelock.address,
        "min_delay": DELAY,
        "proposers": [alice.address],
        "executors": [bob.address],
    }
    assert f"Timelock {timelock.address}" in " ".join(stdout.split())
    assert f"changes wait {DELAY:,} s; proposers {alice.address}; executors {bob.address}" in (
        stdout.replace("\n", " ")
    )


def test_parameter_change__propose_wait_execute(governed, timelock, alice, bob, chain):
    controller = governed.suite.controller
    rate = 10_000_000 * VVV
    assert controller.annualRate() != rate
    call = _propose(timelock, controller, controller.setAnnualRate.encode_input(rate), alice)
    op = timelock.hash_operation(*call)
    ready_at = timelock.get_timestamp(op)
    assert ready_at == chain.blocks.head.timestamp + DELAY

    with ape.reverts(NOT_READY):
        timelock.execute(*call, sender=bob)
    chain.pending_timestamp = ready_at - 1
    with ape.reverts(NOT_READY):
        timelock.execute(*call, sender=bob)
    assert controller.annualRate() != rate

    chain.pending_timestamp = ready_at
    receipt = timelock.execute(*call, sender=bob)
    assert controller.annualRate() == rate
    assert receipt.timestamp == ready_at
    changed = [log for log in receipt.events if log.event_name == "AnnualRateChanged"]
    assert [log.newRate for log in changed] == [rate]
    assert timelock.is_operation_done(op)
    with ape.reverts(NOT_READY):  # once only
        timelock.execute(*call, sender=bob)


def test_parameter_change__a_shorter_delay_or_another_caller__refused(
    governed, timelock, alice, bob, attacker, chain
):
    subscriptions = governed.suite.subscriptions
    payload = subscriptions.setTier.encode_input(0, 20 * 10**6, 3 * 10**6)
    with ape.reverts("timelock_controller: insufficient delay"):
        _propose(timelock, subscriptions, payload, alice, delay=DELAY - 1)
    with ape.reverts(MISSING_ROLE):
        _propose(timelock, subscriptions, payload, attacker)
    call = _propose(timelock, subscriptions, payload, alice)
    chain.pending_timestamp = chain.blocks.head.timestamp + DELAY
    with ape.reverts(MISSING_ROLE):  # ready, but only an executor runs it
        timelock.execute(*call, sender=attacker)
    timelock.execute(*call, sender=bob)
    assert subscriptions.tiers(0) == (20 * 10**6, 3 * 10**6)


def test_parameter_change__cancelled__never_executes(governed, timelock, alice, bob, chain):
    curve = governed.suite.curve
    call = _propose(timelock, curve, curve.setLaunchMode.encode_input(0, 100), alice)
    op = timelock.hash_operation(*call)
    with ape.reverts(MISSING_ROLE):  # executors do not cancel
        timelock.cancel(op, sender=bob)
    timelock.cancel(op, sender=alice)
    chain.pending_timestamp = chain.blocks.head.timestamp + DELAY
    with ape.reverts(NOT_READY):
        timelock.execute(*call, sender=bob)
    assert curve.launchMode() == 2  # still open


def test_old_owner__can_no_longer_change_anything(governed, owner, alice, attacker):
    suite = governed.suite
    owned = {name: bind(contract) for name, contract in suite.owned().items()}
    changes = [
        owned["EmissionsController"].functions.setAnnualRate(VVV),
        owned["StakedVVV"].functions.setProThreshold(VVV),
        owned["MintCurve"].functions.setLaunchMode(0, 100),
        owned["BuybackBurner"].functions.setKeeper(attacker.address, True),
        owned["Subscriptions"].functions.setTier(0, 10**6, 0),
    ]
    assert set(owned) == set(OWNED_NAMES)
    for account in (owner.address, alice.address):  # the deployer, and a proposer directly
        attempts = [(fn, NOT_OWNER) for fn in changes]
        for contract in owned.values():
            attempts.append((contract.functions.transfer_ownership(account), NOT_OWNER))
            attempts.append((contract.functions.accept_ownership(), NOT_NEW_OWNER))
        for fn, reason in attempts:
            with pytest.raises(Reverted) as reverted:
                send(fn, account)
            assert reverted.value.reason == reason, fn.fn_name
    # Nor can the deployer grant itself a timelock role: the timelock administers itself.
    with ape.reverts(MISSING_ROLE):
        suite.timelock.grantRole(suite.timelock.PROPOSER_ROLE(), owner.address, sender=owner)


def test_handover__open_execution__anyone_executes_a_ready_change(
    suite, config, owner, alice, attacker, chain
):
    # The session suite, handed over here (isolation rewinds the chain; the copy keeps the
    # fixture's Python object as it was).
    governance = Governance(
        timelock=True, min_delay=3_600, proposers=["test:3"], executors=[ANYONE]
    )
    handed = dataclasses.replace(suite, roles=dict(suite.roles))
    timelock = hand_over_to_timelock(
        owner, handed, dataclasses.replace(config, governance=governance), config.roles
    )
    assert timelock.hasRole(timelock.EXECUTOR_ROLE(), ZERO_ADDRESS)
    assert all(c.owner() == timelock.address for c in handed.owned().values())
    burner = suite.burner
    call = _propose(
        timelock, burner, burner.setKeeper.encode_input(attacker, True), alice, delay=3_600
    )
    chain.pending_timestamp = chain.blocks.head.timestamp + 3_600
    timelock.execute(*call, sender=attacker)
    assert burner.isKeeper(attacker)
