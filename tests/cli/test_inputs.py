"""What a person types, refused before any transaction when it could move the wrong amount or
reach the wrong address (issue 15, items 1, 2 and 5): decimal commas, mistyped EIP-55
checksums, click's own usage errors, a tier that does not exist, and an unstake that would
restart a running cooldown. Each refusal exits 1 with one `error:` line and sends nothing."""

from __future__ import annotations

import re
import subprocess

import pytest
from ape import chain

from scripts import diem as diem_cmd
from scripts import keeper as keeper_cmd
from scripts import staker as staker_cmd
from scripts import subscribe as subscribe_cmd
from tests.support.cli import one_error_line
from tests.support.constants import USDC, VVV
from venice_ops.commands import staker
from venice_ops.commands.common import (
    UserError,
    parse_address,
    parse_amount,
    parse_slippage,
    parse_usdc,
)
from venice_ops.deploy.airdrop_tree import AirdropInputError, AirdropTree, read_csv
from venice_ops.paths import PROJECT_ROOT
from venice_sdk.addresses import AddressError
from venice_sdk.addresses import parse_address as sdk_parse_address
from venice_sdk.auth import AuthError, normalize_address
from venice_sdk.entitlements import EntitlementError, canonical
from venice_sdk.units import AmountError, parse_units

# Test account 1 (0x70997970C51812dc3A010C7d01b50e0d17dc79C8) with its last digit changed and
# a mixed case that is not the new address's checksum: an address nobody holds.
TYPO = "0x70997970c51812dc3a010c7D01B50E0D17dc79c9"
DECIMAL_COMMAS = ["0,5", "1,5", "1,00"]
HOW_TO = "write decimals with a point, like 0.5 or 1,000.5"


@pytest.fixture
def snapshot(vvv, staking, diem, usdc, subscriptions, burner):
    """Everything a refused command could have changed for `account`: its nonce, its VVV,
    sVVV, DIEM and USDC, the totals staked, and the block height."""

    def take(account) -> tuple[int, ...]:
        return (
            account.nonce,
            int(vvv.balanceOf(account)),
            int(staking.balanceOf(account)),
            int(staking.totalStaked()),
            int(diem.balanceOf(account)),
            int(usdc.balanceOf(account)),
            int(usdc.balanceOf(burner)),
            chain.blocks.head.number,
        )

    return take


################################################################
#                  1. AMOUNTS: DECIMAL COMMAS                  #
################################################################


@pytest.mark.parametrize(
    "parse, text, message",
    [
        (parse_amount, "0", "bad amount: '0' is zero; give a positive amount"),
        (parse_amount, "0.0", "is zero"),
        (parse_amount, "-5", "'-5' is negative"),
        (parse_amount, "ten", "'ten' is not a number"),
        (parse_amount, "1.0000000000000000001", "more than 18 decimal places"),
        (parse_amount, "nan", "not a finite amount"),
        (parse_slippage, "abc", "bad slippage: 'abc' is not a number"),
        (parse_slippage, "-1", "must be a percentage from 0 to 100"),
        (parse_slippage, "101", "must be a percentage from 0 to 100"),
        (parse_slippage, "nan", "must be a percentage from 0 to 100"),
        (parse_slippage, "0.001", "finer than 0.01%"),
    ],
)
def test_parse__mistakes(parse, text, message):
    """An amount or a slippage typed wrong: a `UserError` saying what is bad and why."""
    what = "amount" if parse is parse_amount else "slippage"
    with pytest.raises(UserError, match=f"bad {what}") as info:
        parse(text)
    assert message in str(info.value)


@pytest.mark.parametrize("text", DECIMAL_COMMAS)
def test_amount__a_decimal_comma_is_refused_everywhere(text, tmp_path, alice):
    for parse in (parse_units, lambda t: parse_units(t, 6)):
        with pytest.raises(AmountError, match=HOW_TO):
            parse(text)
    with pytest.raises(UserError, match=f"bad amount: '{text}' has a comma that does not group"):
        parse_amount(text)
    with pytest.raises(UserError, match=f"bad threshold: '{text}' has a comma"):
        parse_usdc(text, "threshold")
    csv = tmp_path / "list.csv"
    csv.write_text(f'address,amount\n{alice.address},"{text}"\n')
    with pytest.raises(AirdropInputError, match=f"^line 2: amount '{text}' has a comma.*{HOW_TO}"):
        read_csv(csv)


@pytest.mark.parametrize(
    "text, wei",
    [
        ("1,000.5", 1_000 * VVV + VVV // 2),
        ("1,000", 1_000 * VVV),
        ("12,345,678.25", 12_345_678 * VVV + VVV // 4),
        ("999", 999 * VVV),
    ],
)
def test_amount__thousands_groups_are_accepted(text, wei, tmp_path, alice):
    assert parse_amount(text) == wei
    csv = tmp_path / "list.csv"
    csv.write_text(f'{alice.address},"{text}"\n')
    assert read_csv(csv) == [(alice.address, wei)]


@pytest.mark.parametrize("text", ["1,0000", ",100", "1,,000", "1,000,00", "1.000,5", "0.5,0"])
def test_amount__other_misplaced_commas_are_refused(text):
    with pytest.raises(AmountError, match="comma"):
        parse_units(text)


@pytest.mark.parametrize(
    "command, args",
    [
        (staker_cmd, ("stake", "{}")),
        (staker_cmd, ("unstake", "{}")),
        (diem_cmd, ("mint", "{}")),
        (diem_cmd, ("burn", "{}")),
        (diem_cmd, ("stake", "{}")),
        (diem_cmd, ("unstake", "{}")),
        (keeper_cmd, ("--threshold", "{}")),
    ],
)
@pytest.mark.parametrize("text", DECIMAL_COMMAS)
def test_cli__a_decimal_comma_sends_nothing(
    invoke, manifests, suite, fund, fund_usdc, burner, snapshot, alice, command, args, text
):
    """Alice could do each of these with any amount: only the comma stops her."""
    fund(alice, 1_000 * VVV)
    staker.stake(suite, alice, 100 * VVV)
    fund_usdc(burner, 2_000 * USDC)
    before = snapshot(alice)

    result = invoke(command.cli, manifests, *(a.format(text) for a in args), "--account", "TEST::3")

    one_error_line(result, f"'{text}' has a comma that does not group thousands: {HOW_TO}")
    assert snapshot(alice) == before


def test_cli__a_thousands_group_stakes_what_it_says(invoke, manifests, fund, staking, alice):
    fund(alice, 2_000 * VVV)
    result = invoke(staker_cmd.cli, manifests, "stake", "1,000.5", "--account", "TEST::3")
    assert result.exit_code == 0, result.stderr
    assert "Staked 1,000.5 VVV; the stake is now 1,000.5 sVVV" in result.stdout
    assert staking.balanceOf(alice) == 1_000 * VVV + VVV // 2


################################################################
#               2. ADDRESSES: THE EIP-55 CHECKSUM              #
################################################################


def test_address__one_parser_refuses_a_bad_checksum_everywhere(tmp_path):
    message = f"'{TYPO}' has an invalid EIP-55 checksum"
    with pytest.raises(AddressError, match=message):
        sdk_parse_address(TYPO)
    with pytest.raises(UserError, match=message):
        parse_address(TYPO)
    with pytest.raises(EntitlementError, match=message) as entitlement:
        canonical(TYPO)
    assert entitlement.value.code == "malformed_address"
    with pytest.raises(AuthError, match=message) as auth:
        normalize_address(TYPO)
    assert auth.value.code == "malformed_address"
    with pytest.raises(ValueError, match=message):
        AirdropTree([(TYPO, 1)])
    csv = tmp_path / "list.csv"
    csv.write_text(f"{TYPO},5\n")
    with pytest.raises(AirdropInputError, match=f"^line 1: {message}"):
        read_csv(csv)


def test_address__lowercase_is_accepted_and_checksummed(accounts):
    address = str(accounts[1].address)
    for spelling in (address.lower(), address, "0x" + address[2:].upper(), f"  {address} "):
        assert sdk_parse_address(spelling) == address
        assert parse_address(spelling) == address
        assert canonical(spelling) == address
        assert normalize_address(spelling) == address
    with pytest.raises(AddressError, match="is not an address"):
        sdk_parse_address("0x1234")


@pytest.mark.parametrize(
    "command, args",
    [
        (staker_cmd, ("stake", "1", "--for", TYPO)),
        (subscribe_cmd, ("pay", "pro", "1", "--for", TYPO)),
        (staker_cmd, ("status", TYPO)),
        (diem_cmd, ("status", TYPO)),
        (subscribe_cmd, ("status", TYPO)),
    ],
)
def test_cli__a_mistyped_checksum_sends_nothing(
    invoke, manifests, fund, fund_usdc, suite, snapshot, alice, command, args
):
    fund(alice, 1_000 * VVV)
    fund_usdc(alice, 1_000 * USDC, spender=suite.subscriptions)
    before = snapshot(alice)
    typo_balance = (suite.staking.balanceOf(TYPO.lower()), suite.usdc.balanceOf(TYPO.lower()))

    result = invoke(command.cli, manifests, *args, "--account", "TEST::3")

    one_error_line(result, f"error: '{TYPO}' has an invalid EIP-55 checksum (a typo?)")
    assert snapshot(alice) == before
    assert (suite.staking.balanceOf(TYPO.lower()), suite.usdc.balanceOf(TYPO.lower())) == (
        typo_balance
    )


def test_cli__a_lowercase_recipient_is_echoed_checksummed(
    invoke, manifests, fund, staking, alice, accounts
):
    fund(alice, 1_000 * VVV)
    bob = str(accounts[1].address)

    result = invoke(
        staker_cmd.cli, manifests, "stake", "5", "--for", bob.lower(), "--account", "TEST::3"
    )

    assert result.exit_code == 0, result.stderr
    assert f"Staked 5 VVV for {bob}; the stake is now 5 sVVV" in result.stdout
    assert staking.balanceOf(bob) == 5 * VVV


################################################################
#                  5. USAGE ERRORS, TIERS, UNSTAKE             #
################################################################


@pytest.mark.parametrize(
    "command, args, message",
    [
        (staker_cmd, ("stake",), "error: Missing argument 'AMOUNT'."),
        (staker_cmd, ("bogus",), "error: No such command 'bogus'."),
        (staker_cmd, ("status", "--bogus"), "error: No such option: --bogus"),
        (subscribe_cmd, ("pay", "pro", "three"), "'three' is not a valid integer"),
        (keeper_cmd, ("--slippage-bps", "x"), "'x' is not a valid integer"),
        (diem_cmd, ("stake", "1", "2"), "error: Got unexpected extra argument (2)"),
    ],
)
def test_cli__click_usage_errors_exit_1_with_one_line(invoke, manifests, command, args, message):
    result = invoke(command.cli, manifests, *args)
    one_error_line(result, message)
    assert "--help`)" in result.stderr


def test_cli__help_still_exits_0(invoke, manifests):
    result = invoke(staker_cmd.cli, manifests, "stake", "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


def test_cli__an_unknown_tier_lists_the_real_ones(invoke, manifests, alice, snapshot):
    before = snapshot(alice)
    result = invoke(subscribe_cmd.cli, manifests, "pay", "gold", "--account", "TEST::3")
    one_error_line(
        result, "error: unknown tier 'gold': this deployment offers pro (0), pro+ (1), max (2)"
    )
    assert "0-3" not in result.stderr
    assert snapshot(alice) == before


def test_unstake__while_cooling_warns_before_restarting_the_timer(
    invoke, manifests, suite, staking, fund, snapshot, alice
):
    fund(alice, 1_000 * VVV)
    staker.stake(suite, alice, 100 * VVV)
    staker.unstake(suite, alice, 30 * VVV)
    cooling, unlock = staking.cooldowns(alice)
    chain.mine(timestamp=int(unlock) - 3_600)  # an hour before the 30 VVV are due
    before = snapshot(alice)

    with pytest.raises(UserError) as refused:
        staker.unstake(suite, alice, 10 * VVV)
    assert str(refused.value).startswith("30 VVV is cooling down until ")
    # The time left follows the node's pending (wall-clock) time: a slow machine reads
    # "59 minutes 59 seconds" where a fast one reads "1 hour".
    assert re.search(
        r"\((1 hour|59 minutes[^)]*) left\); unstaking 10 more adds it to that request and"
        r" restarts the timer: ",
        str(refused.value),
    ), str(refused.value)
    assert "all 40 VVV would cool down for 7 days (until " in str(refused.value)
    result = invoke(staker_cmd.cli, manifests, "unstake", "10", "--account", "TEST::3")
    one_error_line(result, "Nothing was sent; run again with --yes to restart the timer")
    assert snapshot(alice) == before
    assert staking.cooldowns(alice) == (cooling, unlock)

    done = invoke(staker_cmd.cli, manifests, "unstake", "10", "--yes", "--account", "TEST::3")

    assert done.exit_code == 0, done.stderr
    assert "The 30 VVV already cooling joined this request and its timer restarted" in (done.stdout)
    assert staking.cooldowns(alice)[0] == 40 * VVV
    assert staking.cooldowns(alice)[1] > unlock


def test_unstake__after_the_cooldown_says_finalize_first(suite, staking, fund, alice):
    fund(alice, 1_000 * VVV)
    staker.stake(suite, alice, 100 * VVV)
    staker.unstake(suite, alice, 30 * VVV)
    chain.mine(timestamp=int(staking.cooldowns(alice)[1]) + 1)
    with pytest.raises(UserError, match=r"30 VVV has finished its cooldown \(run `finalize`"):
        staker.unstake(suite, alice, 10 * VVV)


def test_keeper_lock_file_is_ignored_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deployments/.keeper-31337.lock"],
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert ignored.returncode == 0


@pytest.mark.parametrize("command", [diem_cmd.cli, staker_cmd.cli], ids=["diem", "staker"])
def test_cli__no_manifest_for_this_network(invoke, tmp_path, command):
    result = invoke(command, tmp_path, "status")
    one_error_line(result, "error: no manifest for this network (chain 31337)")
    assert "Deploy first with `ape run deploy`" in result.stderr
