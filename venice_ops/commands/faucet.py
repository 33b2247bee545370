"""Test tokens on a local chain: USDC minted by the deployer (the suite's TestUSDC) and VVV
from the deployer's genesis share, so that `subscribe pay`, the keeper's buyback and the
staker commands can be tried after a plain `ape run deploy`.

Refused on a live network (`venice_ops.deploy.network.is_local_chain`), before anything is
sent. The deployer signs: the manifest names it, and on a development chain it is a test
account (ape's test account 0 by default), or the `--account` given.
"""

from __future__ import annotations

from ape import accounts, chain
from ape.api import AccountAPI

from venice_ops.commands.common import (
    Outcome,
    UserError,
    check_gas,
    human,
    parse_address,
    resolve_signer,
    send,
)
from venice_ops.commands.value import usd
from venice_ops.deploy.network import is_local_chain
from venice_ops.deploy.suite import Suite


def check_local() -> None:
    if not is_local_chain():
        raise UserError(
            f"the faucet gives test tokens on a local chain only, and chain {chain.chain_id} is "
            "a live network: get USDC or VVV there the usual way"
        )


def deployer_of(suite: Suite, account: AccountAPI | None) -> AccountAPI:
    """The account that deployed the suite, ready to sign: `account` if it is the deployer,
    else the test account with the deployer's address (default: test account 0 when the
    manifest predates the `deployer` field)."""
    if account is not None and (not suite.deployer or account.address == suite.deployer):
        return account
    wanted = suite.deployer or str(resolve_signer(None).address)
    for test_account in accounts.test_accounts:
        if test_account.address == wanted:
            return test_account
    raise UserError(
        f"the faucet signs as the deployer {wanted}, which is not a test account here: pass "
        "--account with the deployer's alias"
    )


def recipient_of(to: str | None, account: AccountAPI | None) -> str:
    """`--to`, else the `--account`, else test account 0."""
    return parse_address(to) if to else str(resolve_signer(account).address)


def give_usdc(suite: Suite, source: AccountAPI, amount: int, recipient: str) -> Outcome:
    """Mint `amount` base units of test USDC to `recipient`."""
    check_local()
    usdc = suite.usdc
    if not usdc.is_minter(source):
        raise UserError(
            f"{source.address} cannot mint this deployment's USDC at {usdc.address}: the "
            "faucet only mints the test USDC that `ape run deploy` deployed"
        )
    check_gas(source)
    receipt = send(usdc.mint, recipient, amount, sender=source)
    held = int(usdc.balanceOf(recipient))
    return Outcome(
        f"Minted {usd(amount)} of test USDC to {recipient}; it holds {usd(held)}", [receipt]
    )


def give_vvv(suite: Suite, source: AccountAPI, amount: int, recipient: str) -> Outcome:
    """Send `amount` wei of VVV from the deployer's genesis share to `recipient`."""
    check_local()
    if recipient == source.address:
        raise UserError(
            f"{recipient} is the deployer, which holds the genesis share already: give the "
            "recipient with --to ADDRESS (or --account)"
        )
    vvv = suite.vvv
    balance = int(vvv.balanceOf(source))
    if balance < amount:
        raise UserError(
            f"the deployer {source.address} holds {human(balance)} VVV, less than "
            f"{human(amount)}; give at most {human(balance)}"
        )
    check_gas(source)
    receipt = send(vvv.transfer, recipient, amount, sender=source)
    held = int(vvv.balanceOf(recipient))
    return Outcome(
        f"Sent {human(amount)} VVV from the deployer's genesis share to {recipient}; it holds "
        f"{human(held)} VVV, the deployer {human(balance - amount)} VVV",
        [receipt],
    )
