# pragma version ~=0.4.3
"""
@title DIEM: tokenized daily compute
@custom:contract-name DIEM
@license GNU Affero General Public License v3.0 only
@notice ERC-20 with EIP-2612 permit (snekmate), transferable and tradeable.
        1 staked DIEM = $1 of API credit per day, forever.
        - Minted and burned only by the staking contract (sVVV), which locks
          stake for it: `StakedVVV.mintDiem` / `burnDiem`.
        - Staking lives on the token itself, with the real deployment's
          names: `stake`, `initiateUnstake` (one cooldown bucket per account;
          a new request adds and restarts the timer), `unstake`,
          `stakedInfos`, `totalStaked`, `cooldownDuration`. Staked and
          cooling DIEM sit in this contract's own balance, so they cannot be
          transferred, and every change emits an event an inference server
          can index.
        - Tokens sent to this contract by transfer are refused, so no
          donation can change anyone's stake accounting; so are tokens sent
          to the staking contract, where they would be lost (DIEM is
          returned there by `burnDiem`, which burns it).
"""

from ethereum.ercs import IERC20

from interfaces import IDIEM

implements: IDIEM

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.approve,
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


MASK_104: constant(uint256) = 2**104 - 1
MAX_COOLDOWN: constant(uint256) = 30 * 86_400


# @dev The staking contract: the only minter and burner.
STAKING: public(immutable(address))
# @dev Seconds between `initiateUnstake` and `unstake` (1 day by default).
cooldownDuration: public(immutable(uint256))


# @dev Packed per account: staked (bits 0-103), cooling (104-207),
#      cooldown end (208-255).
_stakes: HashMap[address, uint256]
# @dev DIEM in cooldown across all accounts.
totalCoolingDown: public(uint256)


event Staked:
    account: indexed(address)
    amount: uint256
    amountStaked: uint256


event UnstakeInitiated:
    account: indexed(address)
    amount: uint256
    amountStaked: uint256
    coolDownAmount: uint256
    coolDownEnd: uint256


event Unstaked:
    account: indexed(address)
    amount: uint256


@deploy
def __init__(staking: address, cooldown_duration: uint256):
    """
    @notice Deploys DIEM with no owner and no supply; only the staking contract mints and burns.
    @param staking The StakedVVV contract (mints and burns DIEM).
    @param cooldown_duration DIEM unstake cooldown in seconds.
    """
    ownable.__init__()
    erc20.__init__("Diem", "DIEM", 18, "Diem", "1")
    erc20.is_minter[msg.sender] = False
    ownable._transfer_ownership(empty(address))
    assert staking != empty(address), "DIEM: zero staking"
    assert cooldown_duration <= MAX_COOLDOWN, "DIEM: cooldown too long"
    STAKING = staking
    cooldownDuration = cooldown_duration


################################################################
#                           TRANSFERS                          #
################################################################


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice ERC-20 transfer. Neither this contract (use `stake`) nor the
            staking contract (use its `burnDiem`) can receive DIEM.
    @param to The receiver: not this contract (use `stake`) nor the staking
           contract (use its `burnDiem`).
    @param amount DIEM in wei.
    @return True.
    """
    assert to != self, "DIEM: use stake()"
    assert to != STAKING, "DIEM: use burnDiem()"
    # snekmate's `erc20._transfer` inline (its hooks are empty; the sender is never zero):
    # the internal calls cost more than the two checks above.
    assert to != empty(address), "erc20: transfer to the zero address"
    balance: uint256 = erc20.balanceOf[msg.sender]
    assert balance >= amount, "erc20: transfer amount exceeds balance"
    erc20.balanceOf[msg.sender] = unsafe_sub(balance, amount)
    erc20.balanceOf[to] = unsafe_add(erc20.balanceOf[to], amount)
    log IERC20.Transfer(sender=msg.sender, receiver=to, value=amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice ERC-20 transferFrom. Neither this contract nor the staking
            contract can receive DIEM.
    @param owner The holder, who approved the caller.
    @param to The receiver: not this contract nor the staking contract.
    @param amount DIEM in wei.
    @return True.
    """
    assert to != self, "DIEM: use stake()"
    assert to != STAKING, "DIEM: use burnDiem()"
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    return True


################################################################
#                            STAKING                           #
################################################################


@external
@nonreentrant
def stake(amount: uint256):
    """
    @notice Stakes `amount` of the caller's DIEM: it earns daily credit.
    @param amount DIEM in wei.
    """
    assert amount > 0, "DIEM: zero amount"
    packed: uint256 = self._stakes[msg.sender]
    # Subtracted, not added: an amount near 2**256 cannot overflow the check.
    assert amount <= MASK_104 - (packed & MASK_104), "DIEM: stake overflow"
    staked: uint256 = (packed & MASK_104) + amount
    erc20._transfer(msg.sender, self, amount)
    self._stakes[msg.sender] = (packed & ~MASK_104) | staked
    log Staked(account=msg.sender, amount=amount, amountStaked=staked)


@external
@nonreentrant
def initiateUnstake(amount: uint256):
    """
    @notice Moves `amount` of staked DIEM into the cooldown bucket; it stops
            counting for credit now. The bucket adds and the timer restarts.
    @param amount DIEM in wei.
    """
    assert amount > 0, "DIEM: zero amount"
    packed: uint256 = self._stakes[msg.sender]
    staked: uint256 = packed & MASK_104
    assert amount <= staked, "DIEM: amount exceeds stake"
    cooling: uint256 = ((packed >> 104) & MASK_104) + amount
    end: uint256 = block.timestamp + cooldownDuration
    self._stakes[msg.sender] = (end << 208) | (cooling << 104) | (staked - amount)
    self.totalCoolingDown += amount
    log UnstakeInitiated(
        account=msg.sender,
        amount=amount,
        amountStaked=staked - amount,
        coolDownAmount=cooling,
        coolDownEnd=end,
    )


@external
@nonreentrant
def unstake():
    """
    @notice Returns the caller's cooled-down DIEM to its balance.
    """
    packed: uint256 = self._stakes[msg.sender]
    cooling: uint256 = (packed >> 104) & MASK_104
    assert cooling > 0, "DIEM: nothing to unstake"
    assert block.timestamp >= packed >> 208, "DIEM: cooldown active"
    self._stakes[msg.sender] = packed & ~(MASK_104 << 104)
    self.totalCoolingDown -= cooling
    erc20._transfer(self, msg.sender, cooling)
    log Unstaked(account=msg.sender, amount=cooling)


@view
@external
def stakedInfos(account: address) -> (uint256, uint256, uint256):
    """
    @notice (amountStaked, coolDownEnd, coolDownAmount), as on the real DIEM.
    @param account The holder.
    @return (staked, end of the cooldown or 0, cooling), wei and seconds.
    """
    packed: uint256 = self._stakes[account]
    cooling: uint256 = (packed >> 104) & MASK_104
    end: uint256 = 0
    if cooling > 0:
        end = packed >> 208
    return packed & MASK_104, end, cooling


@view
@external
def totalStaked() -> uint256:
    """
    @notice DIEM staked across all accounts, cooldown excluded.
    @return DIEM staked, in wei.
    """
    return erc20.balanceOf[self] - self.totalCoolingDown


################################################################
#                        STAKING CONTRACT                      #
################################################################


@external
def mint(to: address, amount: uint256):
    """
    @notice Mints DIEM for a lock. Only the staking contract.
    @param to The receiver.
    @param amount DIEM in wei.
    """
    assert msg.sender == STAKING, "DIEM: not staking"
    erc20._mint(to, amount)


@external
def burn(owner: address, amount: uint256):
    """
    @notice Burns DIEM from `owner`'s free balance to release its lock. Only
            the staking contract.
    @param owner The holder whose lock is released.
    @param amount DIEM in wei.
    """
    assert msg.sender == STAKING, "DIEM: not staking"
    erc20._burn(owner, amount)
