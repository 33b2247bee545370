# pragma version ~=0.4.3
"""
@title HookDiem
@custom:contract-name HookDiem
@license GNU Affero General Public License v3.0 only
@notice Test-only stand-in for DIEM as the staking contract sees it
        (`IDIEM`: mint and burn by the staking contract), with a transfer
        hook after every mint, burn and transfer, so the reentrancy tests can
        reenter StakedVVV from inside mintDiem, mintExactDiem and burnDiem.
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
    erc20.transfer,
    ownable.owner,
    transfer_hook.hook,
    transfer_hook.set_hook,
)


STAKING: public(immutable(address))


@deploy
def __init__(staking: address):
    ownable.__init__()
    transfer_hook.__init__()
    erc20.__init__("Hook DIEM", "hDIEM", 18, "Hook DIEM", "1")
    STAKING = staking


@external
def mint(to: address, amount: uint256):
    assert msg.sender == STAKING, "hDIEM: not staking"
    erc20._mint(to, amount)
    transfer_hook._after_transfer(empty(address), to, amount)


@external
def burn(owner: address, amount: uint256):
    assert msg.sender == STAKING, "hDIEM: not staking"
    erc20._burn(owner, amount)
    transfer_hook._after_transfer(owner, empty(address), amount)
