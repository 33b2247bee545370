# pragma version ~=0.4.3
"""
@title VVV: the Venice capital token
@custom:contract-name VVV
@license GNU Affero General Public License v3.0 only
@notice ERC-20 with EIP-2612 permit and a burn that lowers `totalSupply`,
        composed from snekmate's `erc20` module.
        - The genesis supply is minted once, in the constructor, to the
          addresses of the deploy config.
        - After that, VVV is only ever minted as staking emissions: the
          deployer names the minter (the staking contract) once, and no
          one can change it. There is no owner-controlled mint.
@custom:security The deployer's only power is the one-shot `setMinter`.
"""

from interfaces import IVVV

implements: IVVV

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.transfer,
    erc20.approve,
    erc20.transferFrom,
    erc20.burn,
    erc20.burn_from,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
)


MAX_GENESIS_RECIPIENTS: constant(uint256) = 16


# @dev The only address that may mint after genesis (the staking contract).
minter: public(address)
# @dev Who may call `setMinter`, once.
_deployer: address


event MinterSet:
    minter: indexed(address)


@deploy
def __init__(
    recipients: DynArray[address, MAX_GENESIS_RECIPIENTS],
    amounts: DynArray[uint256, MAX_GENESIS_RECIPIENTS],
):
    """
    @notice Deploys VVV with its genesis allocation; the staking contract becomes its only
            minter.
    @param recipients Genesis allocation addresses.
    @param amounts Genesis amounts in wei, one per recipient.
    """
    ownable.__init__()
    erc20.__init__("Venice Token", "VVV", 18, "Venice Token", "1")
    # The snekmate owner is a minter by default; here only `minter` mints.
    erc20.is_minter[msg.sender] = False
    assert len(recipients) == len(amounts), "VVV: length mismatch"
    for i: uint256 in range(MAX_GENESIS_RECIPIENTS):
        if i >= len(recipients):
            break
        assert amounts[i] > 0, "VVV: zero genesis amount"
        erc20._mint(recipients[i], amounts[i])
    ownable._transfer_ownership(empty(address))
    self._deployer = msg.sender


@external
def setMinter(minter: address):
    """
    @notice Names the emissions minter, once. Only the deployer may call.
    @param minter The staking contract.
    """
    assert msg.sender == self._deployer, "VVV: not deployer"
    assert minter != empty(address), "VVV: zero minter"
    self.minter = minter
    self._deployer = empty(address)
    log MinterSet(minter=minter)


@external
def mint(to: address, amount: uint256):
    """
    @notice Mints emissions. Only the minter may call.
    @param to Receiver.
    @param amount Amount in wei.
    """
    assert msg.sender == self.minter, "VVV: not minter"
    erc20._mint(to, amount)
