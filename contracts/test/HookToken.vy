# pragma version ~=0.4.3
"""
@title HookToken
@custom:contract-name HookToken
@license GNU Affero General Public License v3.0 only
@notice Test-only ERC-20 with a transfer hook: snekmate's ERC-20 whose
        transfer, transferFrom, mint and burn call a hook contract after
        moving the balance. It stands in for VVV (mint by the minters the
        owner names, burn) or USDC in fresh instances of the contracts, so
        the reentrancy tests can reenter them from inside their token calls.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

from . import transfer_hook

initializes: ownable
initializes: erc20[ownable := ownable]
initializes: transfer_hook

exports: (
    erc20.approve,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.is_minter,
    erc20.set_minter,
    ownable.owner,
    transfer_hook.hook,
    transfer_hook.set_hook,
)


@deploy
def __init__(name: String[25], symbol: String[5], decimals: uint8):
    ownable.__init__()
    transfer_hook.__init__()
    erc20.__init__(name, symbol, decimals, name, "1")


@external
def transfer(to: address, amount: uint256) -> bool:
    erc20._transfer(msg.sender, to, amount)
    transfer_hook._after_transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    transfer_hook._after_transfer(owner, to, amount)
    return True


@external
def mint(owner: address, amount: uint256):
    assert erc20.is_minter[msg.sender], "erc20: access is denied"
    erc20._mint(owner, amount)
    transfer_hook._after_transfer(empty(address), owner, amount)


@external
def burn(amount: uint256):
    erc20._burn(msg.sender, amount)
    transfer_hook._after_transfer(msg.sender, empty(address), amount)
