"""The staker command: its checks and messages (`venice_ops/commands/staker.py`) on the deployed
suite, the click commands in-process on the same Anvil, and `ape run` end to end against a node."""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from unittest import mock

import pytest
from ape import chain

from scripts.staker import cli
from tests.support.cli import NODE_BIN, ape_run, command_fixture, one_error_line, running_anvil
from tests.support.constants import DAY, HOUR, VVV
from venice_ops.commands import staker
from venice_ops.commands.common import (
    TransactionReverted,
    UserError,
    parse_amount,
    resolve_signer,
    send,
)
from venice_ops.deploy.network import node_started_here


def give(vvv, owner, account, amount: int) -> None:
    """VVV without an approval, so the stake path has to approve."""
    vvv.transfer(account, amount, sender=owner)


def unlock_time(staking, account) -> int:
    return int(staking.cooldowns(account)[1])


################################################################
#                         PURE HELPERS                         #
################################################################


@pytest.mark.parametrize(
    "text, wei",
    [("100.5", 100_500_000_000_000_000_000), ("1_000", 1_000 * VVV), ("0.000000000000000001", 1)],
)
def test_parse_amount(text, wei):
    assert parse_amount(text) == wei


def test_parse_address__mistakes():
    with pytest.raises(UserError, match="'0x1234' is not an address"):
        staker.parse_address("0x1234")
    with pytest.raises(UserError, match="zero address"):
        staker.parse_address("0x" + "0" * 40)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (3 * DAY + 4 * HOUR, "3 days 4 hours"),
        (3 * DAY + 3 * HOUR + 1, "3 days 4 hours"),  # rounded up: waiting that long is enough
        (7 * DAY - 5, "7 days"),
        (DAY + 60, "1 day 1 hour"),
        (5 * HOUR + 30, "5 hours 1 minute"),
        (59, "59 seconds"),
        (61, "1 minute 1 second"),
        (0, "0 seconds"),
    ],
)
def test_format_duration(seconds, text):
    assert staker.format_duration(seconds) == text


def test_human():
    assert staker.human(12_500_000_000_000_000_000) == "12.5"
    assert staker.human(100 * VVV) == "100"
    assert staker.human(1_234_567 * VVV + VVV // 4) == "1,234,567.25"
    assert staker.human(1) == "0.000000000000000001"
    assert staker.human(VVV // 3, 4) == "0.3333"


def test_resolve_signer__defaults_to_test_account_0_on_a_local_network(accounts, bob):
    assert resolve_signer(None) == accounts[0]
    assert resolve_signer(bob) == bob


################################################################
#                            STAKE                             #
################################################################


def test_stake__not_enough_vvv(suite, vvv, owner, alice):
    give(vvv, owner, alice, 12 * VVV + VVV // 2)
    with pytest.raises(UserError, match=re.escape("not enough VVV: you have 12.5 VVV, need 100")):
        staker.stake(suite, alice, 100 * VVV)


def test_stake__approves_exactly_the_amount_when_short(suite, vvv, staking, owner, alice):
    give(vvv, owner, alice, 1_000 * VVV)
    amount = parse_amount("100.5")

    outcome = staker.stake(suite, alice, amount)

    approve, _ = outcome.receipts
    assert [log.value for log in approve.decode_logs(vvv.Approval)] == [amount]
    assert staking.balanceOf(alice) == amount
    assert vvv.allowance(alice, staking) == 0
    assert outcome.message == (
        "Approved 100.5 VVV to the staking contract; staked 100.5 VVV; "
        "the stake is now 100.5 sVVV (Pro)"
    )


def test_stake__no_approval_when_the_allowance_covers_it(suite, staking, fund, alice):
    fund(alice, 1_000 * VVV)  # approves the maximum
    outcome = staker.stake(suite, alice, 40 * VVV)
    assert len(outcome.receipts) == 1
    assert outcome.message == "Staked 40 VVV; the stake is now 40 sVVV"


def test_stake__for_another_address(suite, staking, fund, alice, bob):
    fund(alice, 1_000 * VVV)
    outcome = staker.stake(suite, alice, 150 * VVV, recipient=bob.address)
    assert staking.balanceOf(bob) == 150 * VVV
    assert staking.balanceOf(alice) == 0
    assert f"Staked 150 VVV for {bob.address}; the stake is now 150 sVVV (Pro)" in outcome.message


def test_stake__bad_recipient(suite, fund, alice):
    fund(alice, 1_000 * VVV)
    with pytest.raises(UserError, match="'bob' is not an address"):
        staker.stake(suite, alice, VVV, recipient="bob")


################################################################
#                       UNSTAKE / FINALIZE                     #
################################################################


def test_unstake__nothing_staked(suite, alice):
    with pytest.raises(UserError, match="nothing to unstake"):
        staker.unstake(suite, alice, VVV)


def test_unstake__more_than_the_stake(suite, fund, alice):
    fund(alice, 1_000 * VVV)
    staker.stake(suite, alice, 100 * VVV)
    with pytest.raises(
        UserError, match=re.escape("you have 100 sVVV staked, cannot unstake 150.5")
    ):
        staker.unstake(suite, alice, parse_amount("150.5"))


def test_unstake__more_than_the_unlocked_stake(suite, staking, fund, alice):
    fund(alice, 1_000 * VVV)
    staker.stake(suite, alice, 1_000 * VVV)
    staking.mintDiem(400 * VVV, 0, sender=alice)

    with pytest.raises(UserError) as info:
        staker.unstake(suite, alice, 601 * VVV)
    assert str(info.value) == (
        "400 of your 1,000 sVVV is locked behind DIEM: you can unstake at most 600 now "
        "(burn DIEM to unlock more)"
    )
    rows = dict(staker.status_rows(staker.read_status(suite, alice.address)))
    assert rows["locked behind DIEM"] == "400 sVVV"
    assert rows["unstakable"] == "600 sVVV"
    assert staker.unstake(suite, alice, 600 * VVV).message.startswith("Started unstaking 600 VVV")


def test_unstake__starts_the_cooldown_and_restarts_it(suite, staking, fund, alice):
    fund(alice, 1_000 * VVV)
    staker.stake(suite, alice, 100 * VVV)

    first = staker.unstake(suite, alice, 30 * VVV)
    assert first.message.startswith("Started unstaking 30 VVV: 30 VVV is cooling down until ")
    assert "(7 days); then run `finalize`" in first.message

    second = staker.unstake(suite, alice, 10 * VVV, restart_cooldown=True)
    assert "40 VVV is cooling down" in second.message
    assert "The 30 VVV already cooling joined this request and its timer restarted" in (
        second.message
    )
    assert staking.balanceOf(alice) == 60 * VVV
    assert staking.cooldowns(alice)[0] == 40 * VVV


def test_finalize__nothing_cooling(suite, alice):
    with pytest.raises(UserError, match="nothing to finalize: no VVV is cooling down"):
        staker.finalize(suite, alice)


def test_finalize__too_early_says_how_long_is_left(suite, staking, fund, alice):
    fund(alice, 1_000 * VVV)
    staker.stake(suite, alice, 100 * VVV)
    staker.unstake(suite, alice, 50 * VVV)
    chain.mine(timestamp=unlock_time(staking, alice) - (3 * DAY + 4 * HOUR))

    with pytest.raises(UserError) as info:
        staker.finalize(suite, alice)
    assert "too early: the cooldown has 3 days 4 hours left for your 50 VVV" in str(info.value)
    assert "run `finalize` again then" in str(info.value)


def test_finalize__after_the_cooldown(suite, vvv, staking, fund, alice):
    fund(alice, 100 * VVV)
    staker.stake(suite, alice, 100 * VVV)
    staker.unstake(suite, alice, 25 * VVV)
    chain.mine(timestamp=unlock_time(staking, alice))

    outcome = staker.finalize(suite, alice)

    assert vvv.balanceOf(alice) == 25 * VVV
    assert staking.cooldowns(alice) == (0, 0)
    assert outcome.message == "Withdrew 25 VVV; the balance is now 25 VVV"


################################################################
#                       CLAIM / COMPOUND                       #
################################################################


def test_claim__nothing_to_claim(suite, alice):
    with pytest.raises(
        UserError, match=r"nothing to claim: account 0x\w+ has no rewards and no stake"
    ):
        staker.claim(suite, alice)
    with pytest.raises(UserError, match="nothing to claim"):
        staker.compound(suite, alice)


def test_claim__pays_the_rewards(suite, vvv, staking, fund, alice):
    fund(alice, 100 * VVV)
    staker.stake(suite, alice, 100 * VVV)
    chain.mine(timestamp=chain.pending_timestamp + DAY)

    outcome = staker.claim(suite, alice)

    (claimed,) = outcome.receipts[0].decode_logs(staking.RewardsClaimed)
    assert claimed.amount > 0 and not claimed.restaked
    assert vvv.balanceOf(alice) == claimed.amount
    assert outcome.message.startswith(f"Claimed {staker.human(claimed.amount, 4)} VVV of rewards")
    assert staking.pendingRewards(alice) == 0


def test_compound__restakes_the_rewards(suite, staking, fund, alice):
    fund(alice, 100 * VVV)
    staker.stake(suite, alice, 100 * VVV)
    chain.mine(timestamp=chain.pending_timestamp + DAY)

    outcome = staker.compound(suite, alice)

    (claimed,) = outcome.receipts[0].decode_logs(staking.RewardsClaimed)
    assert claimed.restaked
    assert staking.balanceOf(alice) == 100 * VVV + claimed.amount
    assert outcome.message.startswith(f"Restaked {staker.human(claimed.amount, 4)} VVV")


def test_send__a_revert_carries_the_contract_reason(staking, alice):
    with pytest.raises(TransactionReverted, match="reverted: sVVV: nothing to finalize"):
        send(staking.finalizeUnstake, sender=alice)


################################################################
#                            STATUS                            #
################################################################


def test_status__nothing_staked(suite, alice):
    status = staker.read_status(suite, alice.address)
    assert status.apr is None
    rows = dict(staker.status_rows(status))
    assert rows["APR (all stakers)"] == "n/a (nothing staked)"
    assert rows["staked"] == "0 sVVV"
    assert rows["cooling down"] == "nothing"
    assert rows["Pro"] == "no (stake 100 more VVV)"


def test_status__values(suite, vvv, staking, fund, alice, bob):
    fund(alice, 1_000 * VVV)
    staker.stake(suite, alice, 300 * VVV)
    staker.stake(suite, alice, 100 * VVV, recipient=bob.address)
    staker.unstake(suite, alice, 50 * VVV)
    chain.mine(timestamp=chain.pending_timestamp + HOUR)

    status = staker.read_status(suite, alice.address)

    assert status.vvv_balance == 600 * VVV
    assert status.staked == 250 * VVV and status.unlocked == 250 * VVV and status.locked == 0
    assert status.cooling == 50 * VVV
    assert 7 * DAY - 2 * HOUR < status.cooldown_left < 7 * DAY - HOUR + 60
    assert status.is_pro
    assert status.pending_rewards > 0
    rate = staking.rewardRate()
    assert rate > 0
    assert status.apr == Decimal(rate * 31_536_000 * 100) / Decimal(350 * VVV)
    rows = dict(staker.status_rows(status))
    assert rows["VVV balance"] == "600 VVV"
    assert rows["staked"] == "250 sVVV"
    assert rows["cooling down"].startswith("50 VVV, 6 days 23 hours left (until ")
    assert rows["Pro"] == "yes"
    assert rows["APR (all stakers)"] == f"{status.apr:,.2f}%"

    chain.mine(timestamp=unlock_time(staking, alice))
    rows = dict(staker.status_rows(staker.read_status(suite, alice.address)))
    assert rows["cooling down"] == "50 VVV, ready: run `finalize`"


################################################################
#                 THE COMMANDS, IN-PROCESS (CLICK)             #
################################################################


run = command_fixture(cli)


def test_cli__stake_and_status(run, manifests, staking, vvv, owner, accounts, alice):
    give(vvv, owner, alice, 200 * VVV)

    result = run(manifests, "stake", "100.5", "--account", "TEST::3")

    assert result.exit_code == 0, result.stderr
    assert "staked 100.5 VVV; the stake is now 100.5 sVVV (Pro)" in result.stdout
    assert staking.balanceOf(alice) == parse_amount("100.5")

    status = run(manifests, "status", alice.address)
    assert status.exit_code == 0, status.stderr
    assert "100.5 sVVV" in status.stdout
    assert "Pro" in status.stdout and "yes" in status.stdout


def test_cli__default_account_is_test_account_0(run, manifests, staking, accounts):
    result = run(manifests, "stake", "1")
    assert result.exit_code == 0, result.stderr
    assert staking.balanceOf(accounts[0]) == VVV


@pytest.mark.parametrize(
    "args, message",
    [
        (("stake", "-5"), "error: bad amount: '-5' is negative"),
        (("stake", "0"), "error: bad amount: '0' is zero"),
        (("stake", "lots"), "error: bad amount: 'lots' is not a number"),
        (("stake", "100", "--account", "TEST::3"), "you have 0 VVV, need 100"),
        (("unstake", "5", "--account", "TEST::3"), "nothing to unstake"),
        (("finalize", "--account", "TEST::3"), "nothing to finalize"),
        (("claim", "--account", "TEST::3"), "nothing to claim"),
        (("compound", "--account", "TEST::3"), "nothing to claim"),
        (("status", "0xnope"), "'0xnope' is not an address"),
    ],
)
def test_cli__user_mistakes_exit_1_with_one_line(run, manifests, args, message):
    one_error_line(run(manifests, *args), message)


def test_cli__no_code_at_the_manifests_address(run, manifests):
    path = manifests / f"{chain.chain_id}.json"
    data = json.loads(path.read_text())
    data["contracts"]["StakedVVV"]["address"] = "0x" + "12" * 20
    path.write_text(json.dumps(data))

    with mock.patch("venice_ops.deploy.suite.node_started_here", return_value=False):
        result = run(manifests, "status")  # a node the user runs, restarted
    assert result.exit_code == 1
    assert "has no code there (a restarted local node?)" in result.stderr
    # No --network: ape started a throwaway node for the command. "Redeploy" there would
    # have replaced the manifest of the node the suite is on; the message says what to pass.
    assert node_started_here()  # (the tests' node is ape's)
    result = run(manifests, "status")
    assert result.exit_code == 1
    assert "a throwaway node ape started for it (no --network)" in result.stderr
    assert "pass the --network of the node you deployed to" in result.stderr


################################################################
#                  `ape run` AGAINST A NODE (SLOW)             #
################################################################


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """An Anvil started the way a user starts one, and the suite deployed on it with
    `ape run deploy`; yields (uri, manifests folder, environment)."""
    with running_anvil() as uri:
        manifests = tmp_path_factory.mktemp("deployments")
        env = {
            **os.environ,
            "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONWARNINGS": "ignore",
            "VENICE_DEPLOYMENTS": str(manifests),
            # ape-foundry's provider on the local network, pointed at this Anvil (it connects
            # to a running node and leaves it running): local-network sends use the block gas
            # limit, so the deploy's wiring transactions never run short of gas.
            "APE_FOUNDRY_HOST": uri,
        }
        deployed = ape_run(env, "deploy", "--network", "ethereum:local:foundry")
        assert deployed.returncode == 0, deployed.stderr
        assert "Manifest:" in deployed.stdout
        yield uri, manifests, env


def test_ape_run__stake_status_and_a_mistake(node):
    uri, manifests, env = node
    # The same node reached by its URI alone (ape calls it the "custom" network).
    network = ("--network", uri)

    staked = ape_run(env, "staker", "stake", "100.5", *network)
    assert staked.returncode == 0, staked.stderr
    assert "staked 100.5 VVV; the stake is now 100.5 sVVV (Pro)" in staked.stdout

    unstaked = ape_run(env, "staker", "unstake", "0.5", *network)
    assert unstaked.returncode == 0, unstaked.stderr

    status = ape_run(env, "staker", "status", *network)
    assert status.returncode == 0, status.stderr
    assert "100 sVVV" in status.stdout and "0.5 VVV, 7 days left" in status.stdout

    early = ape_run(env, "staker", "finalize", *network)
    assert early.returncode == 1
    assert "error: too early: the cooldown has 7 days left" in early.stderr
    assert "Traceback" not in early.stderr
    assert json.loads((manifests / "31337.json").read_text())["chain_id"] == 31_337
