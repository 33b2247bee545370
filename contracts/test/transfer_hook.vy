# pragma version ~=0.4.3
"""
@title transfer_hook
@custom:contract-name transfer_hook
@license GNU Affero General Public License v3.0 only
@notice Test-only module: hands control to a hook contract after every
        balance movement of the token that uses it, as ERC-777's
        `tokensReceived` or a fee-on-transfer token's callback would. The
        reentrancy attack tests use it to reenter the contract under attack
        from inside its own token calls.
"""

interface ITransferHook:
    def onTokenTransfer(sender: address, receiver: address, amount: uint256): nonpayable


# @dev Called after every transfer, mint and burn (none when empty).
hook: public(address)
# @dev Who may set the hook: the token's deployer.
_admin: address


@deploy
def __init__():
    self._admin = msg.sender


@external
def set_hook(hook: address):
    """
    @dev Sets the hook contract. Only the token's deployer may call.
    """
    assert msg.sender == self._admin, "hook: not admin"
    self.hook = hook


@internal
def _after_transfer(sender: address, receiver: address, amount: uint256):
    hook: address = self.hook
    if hook != empty(address):
        extcall ITransferHook(hook).onTokenTransfer(sender, receiver, amount)
