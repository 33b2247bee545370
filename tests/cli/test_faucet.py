"""The local faucet (`scripts/faucet.py`, `venice_ops/commands/faucet.py`): test USDC minted
by the deployer and VVV from its genesis share, refused on a live network (issue 15, item 4);
and with that USDC a subscription pays after a plain deploy."""

from __future__ import annotations

import pytest
from ape import chain

from scripts import faucet as faucet_cmd
from scripts import subscribe as subscribe_cmd
from tests.support.cli import command_fixture, one_error_line
from tests.support.constants import USDC, VVV
from venice_ops.commands import faucet

run = command_fixture(faucet_cmd.cli)


def test_usdc__mints_to_the_account_then_a_subscription_pays(
    run, invoke, manifests, usdc, subscriptions, alice
):
    result = run(manifests, "usdc", "1,000", "--account", "TEST::3")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        f"Minted $1,000.00 of test USDC to {alice.address}; it holds $1,000.00"
    )
    assert usdc.balanceOf(alice) == 1_000 * USDC
    assert alice.nonce == 0  # the deployer signed

    paid = invoke(subscribe_cmd.cli, manifests, "pay", "pro", "1", "--account", "TEST::3")
    assert paid.exit_code == 0, paid.stderr
    assert subscriptions.expiryOf(alice, 0) > chain.blocks.head.timestamp


def test_usdc__to_another_address(run, manifests, usdc, accounts):
    bob = str(accounts[4].address)
    result = run(manifests, "usdc", "12.5", "--to", bob.lower())
    assert result.exit_code == 0, result.stderr
    assert f"to {bob}; it holds $12.50" in result.stdout
    assert usdc.balanceOf(bob) == 12_500_000


def test_vvv__from_the_deployers_genesis_share(run, manifests, suite, vvv, owner, bob):
    assert suite.deployer == owner.address
    before = vvv.balanceOf(owner)

    result = run(manifests, "vvv", "1000", "--to", bob.address)

    assert result.exit_code == 0, result.stderr
    assert vvv.balanceOf(bob) == 1_000 * VVV
    assert vvv.balanceOf(owner) == before - 1_000 * VVV
    assert result.stdout.startswith(
        f"Sent 1,000 VVV from the deployer's genesis share to {bob.address}; it holds 1,000 VVV"
    )
    by_account = run(manifests, "vvv", "5", "--account", "TEST::4")
    assert by_account.exit_code == 0, by_account.stderr
    assert vvv.balanceOf(bob) == 1_005 * VVV


@pytest.mark.parametrize(
    "args, message",
    [
        (("vvv", "10"), "is the deployer, which holds the genesis share already"),
        (("vvv", "1,5", "--account", "TEST::4"), "'1,5' has a comma that does not group thousands"),
        (("vvv", "1000000000", "--account", "TEST::4"), "less than 1,000,000,000"),
        (("usdc", "0"), "bad amount: '0' is zero"),
        (("usdc", "5", "--to", "0x70997970c51812dc3a010c7D01B50E0D17dc79c9"), "EIP-55 checksum"),
        (("dai", "5"), "No such command 'dai'"),
    ],
)
def test_faucet__mistakes_send_nothing(run, manifests, vvv, usdc, owner, bob, args, message):
    before = (owner.nonce, vvv.balanceOf(bob), usdc.balanceOf(bob))
    one_error_line(run(manifests, *args), message)
    assert (owner.nonce, vvv.balanceOf(bob), usdc.balanceOf(bob)) == before


def test_faucet__refused_on_a_live_network(run, manifests, monkeypatch, owner, usdc, vvv, bob):
    monkeypatch.setattr(faucet, "is_local_chain", lambda: False)
    before = (owner.nonce, usdc.balanceOf(owner), vvv.balanceOf(bob))
    for args in (("usdc", "1000"), ("vvv", "1000", "--to", bob.address)):
        one_error_line(
            run(manifests, *args),
            f"the faucet gives test tokens on a local chain only, and chain {chain.chain_id} "
            "is a live network",
        )
    assert (owner.nonce, usdc.balanceOf(owner), vvv.balanceOf(bob)) == before
