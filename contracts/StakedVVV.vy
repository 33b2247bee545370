# pragma version ~=0.4.3
# One file on purpose (over 900 lines): staking, cooldowns, DIEM locks and the treasury's share
# read and write one storage layout and one accumulator; split into modules, every call would
# pay for the cross-module state and the layout would be spread over files.
"""
@title StakedVVV (sVVV)
@custom:contract-name StakedVVV
@license GNU Affero General Public License v3.0 only
@notice Stake VVV 1:1 for a non-transferable sVVV balance that earns VVV
        emissions pro rata, per second.
        - One reward-per-token accumulator: every action is O(1), whatever
          the number of stakers.
        - The stakers' emission rate comes from the EmissionsController and
          is cached here with the time until which it is valid (the next
          scheduled change or stale-report deadline); past that time the
          next action integrates the exact amount from the controller.
        - `initiateUnstake` moves stake into a single per-account cooldown
          bucket (a new request adds and restarts the timer); cooling
          tokens earn nothing; `finalizeUnstake` pays them after the wait.
        - Locked stake (behind DIEM) earns `10_000 - LOCKED_TREASURY_BPS`
          of the normal rate; the rest accrues to the treasury.
        - Rewards are minted on claim: this contract is the VVV minter, and
          it mints no more than the controller emitted to stakers.
          Emissions for seconds in which nothing is staked are not minted,
          and rounding always leaves dust unminted.
        Function names follow the real deployment on Base.
@custom:security Amounts in cooldown are held here and owed in full; the
                 treasury's share is minted only through `releaseTreasury`.
"""

from ethereum.ercs import IERC20

from interfaces import IDIEM
from interfaces import IEmissionsController
from interfaces import IMintCurve
from interfaces import IStakedVVV
from interfaces import IVVV

implements: IStakedVVV

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


BPS: public(constant(uint256)) = 10_000
# @dev Scale of the reward-per-token accumulator. Above any stake total, so
#      that a staker's rounding loss is under 1 wei per accrual step.
PRECISION: public(constant(uint256)) = 10**36
# @dev Field widths of the packed words (see the storage below and the
#      helpers under PACKED WORDS).
MASK_40: constant(uint256) = 2**40 - 1
MASK_64: constant(uint256) = 2**64 - 1
MASK_112: constant(uint256) = 2**112 - 1
MASK_128: constant(uint256) = 2**128 - 1
MASK_192: constant(uint256) = 2**192 - 1
MAX_COOLDOWN: constant(uint256) = 365 * 86_400

name: public(constant(String[25])) = "Staked VVV"
symbol: public(constant(String[5])) = "sVVV"
decimals: public(constant(uint8)) = 18


VVV: public(immutable(IVVV))
CONTROLLER: public(immutable(IEmissionsController))
# @dev Seconds between `initiateUnstake` and `finalizeUnstake`.
cooldownDuration: public(immutable(uint256))
# @dev Share of a locked stake's yield that goes to the treasury (bps).
LOCKED_TREASURY_BPS: public(immutable(uint256))


# @dev Accumulated stakers' emission per staked wei, scaled by PRECISION.
rewardPerTokenStored: public(uint256)
# @dev Packed, one word read and written per action: last accrual time
#      (bits 0-39), time until which the cached rate holds (40-79), cached
#      stakers' rate in wei/s (80-143), and the treasury's cut of locked
#      stakes' yield accrued since deploy (144-255).
_accrualState: uint256
# @dev Packed: total staked (bits 0-127), total locked (bits 128-255).
_totals: uint256
# @dev VVV minted to the treasury so far.
treasuryMinted: public(uint256)
# @dev 1 + VVV held for accounts in cooldown (the 1 keeps the slot warm).
_coolingDown: uint256

# @dev Packed per account: stake (bits 0-127) and rewards accrued but not
#      claimed as of its last update (bits 128-255). One slot, so an action
#      reads and writes one word, and the slot stays non-zero while staked.
_accounts: HashMap[address, uint256]
userRewardPerTokenPaid: public(HashMap[address, uint256])
# @dev Packed per account: sVVV locked behind DIEM (bits 0-127) and the
#      DIEM outstanding against it (128-255). See `lockedStakes`.
_locks: HashMap[address, uint256]
# @dev Packed: amount cooling down (bits 0-191), unlock time (192-255).
#      The unlock time stays after finalizing, so the slot stays warm.
_cooldowns: HashMap[address, uint256]

# @dev Stake that makes an account Pro.
proThreshold: public(uint256)

# @dev The DIEM token and its mint curve; set once by the owner.
diem: public(IDIEM)
mintCurve: public(IMintCurve)
# @dev DIEM minted against locks and not burned (== DIEM totalSupply).
totalDiemOutstanding: public(uint256)


event Staked:
    sender: indexed(address)
    recipient: indexed(address)
    amount: uint256


event UnstakeInitiated:
    account: indexed(address)
    amount: uint256
    coolingDown: uint256
    unlockTime: uint256


event UnstakeFinalized:
    account: indexed(address)
    amount: uint256


event RewardsClaimed:
    account: indexed(address)
    amount: uint256
    restaked: bool


event TreasuryReleased:
    treasury: indexed(address)
    amount: uint256


event ProThresholdChanged:
    threshold: uint256


event DiemMinted:
    account: indexed(address)
    sVVVLocked: uint256
    diemMinted: uint256
    sVVVLockedAmount: uint256
    outstandingDiemAmount: uint256


event DiemBurned:
    account: indexed(address)
    diemBurned: uint256
    sVVVReleased: uint256
    sVVVLockedAmount: uint256
    outstandingDiemAmount: uint256


event DiemSet:
    diem: indexed(address)
    mintCurve: indexed(address)


@deploy
def __init__(
    vvv: address,
    controller: address,
    cooldown_duration: uint256,
    locked_treasury_bps: uint256,
    pro_threshold: uint256,
):
    """
    @notice Deploys the staking contract; it must then become the VVV minter and be wired to the
            controller.
    @param vvv The VVV token; this contract must become its minter.
    @param controller The EmissionsController.
    @param cooldown_duration Unstake cooldown in seconds (7 days by default).
    @param locked_treasury_bps Treasury's share of locked yield (2_000).
    @param pro_threshold Stake (wei) that makes an account Pro.
    """
    ownable.__init__()
    ownable_2step.__init__()
    assert vvv != empty(address) and controller != empty(address), "sVVV: zero address"
    assert cooldown_duration <= MAX_COOLDOWN, "sVVV: cooldown too long"
    assert locked_treasury_bps <= BPS, "sVVV: bps above 100%"
    VVV = IVVV(vvv)
    CONTROLLER = IEmissionsController(controller)
    cooldownDuration = cooldown_duration
    LOCKED_TREASURY_BPS = locked_treasury_bps
    self.proThreshold = pro_threshold
    self._coolingDown = 1
    # Cache expired: the first accrual asks the controller.
    self._accrualState = block.timestamp


################################################################
#                         STAKER ACTIONS                       #
################################################################


@external
@nonreentrant
def stake(recipient: address, amount: uint256):
    """
    @notice Stakes `amount` VVV of the caller for `recipient`, 1:1 in sVVV.
    @param recipient Who receives the sVVV: not zero, this contract, VVV or
           DIEM (none of them could ever unstake or claim it).
    @param amount VVV in wei, approved to this contract; the recipient's
           stake and the total stay below 2**128.
    """
    assert amount > 0, "sVVV: zero amount"
    assert recipient != empty(address), "sVVV: zero recipient"
    rpt: uint256 = self._accrue()
    account: uint256 = self._update_account(recipient, rpt)
    if account == 0 and recipient != tx.origin:
        # This contract, VVV and DIEM can never unstake or claim, so they
        # never get a stake: their word stays empty, and none of them can
        # sign a transaction. So only a first stake (no stake, no rewards)
        # for someone other than the signer is checked: a repeat stake, and
        # a first one for yourself (airdrop claims into stake too), skip
        # reading DIEM's address. (tx.origin is not used to authorize.)
        assert (
            recipient != self
            and recipient != VVV.address
            and recipient != self.diem.address
        ), "sVVV: bad recipient"
    # Subtracted, not added: an amount near 2**256 cannot overflow the check.
    assert amount <= MASK_128 - self._low(account), "sVVV: stake overflow"
    # Adds to the stake, the low half, which the check keeps from carrying.
    self._accounts[recipient] = account + amount
    self._add_stake(amount)
    extcall VVV.transferFrom(msg.sender, self, amount)
    log IERC20.Transfer(sender=empty(address), receiver=recipient, value=amount)
    log Staked(sender=msg.sender, recipient=recipient, amount=amount)


@external
@nonreentrant
def initiateUnstake(amount: uint256):
    """
    @notice Moves `amount` of the caller's unlocked stake into cooldown. The
            bucket adds to what is already cooling and the timer restarts.
    @param amount sVVV in wei.
    """
    assert amount > 0, "sVVV: zero amount"
    staked: uint256 = self._low(self._accounts[msg.sender])
    assert amount <= staked, "sVVV: amount exceeds stake"
    locked: uint256 = self._low(self._locks[msg.sender])
    assert amount <= staked - locked, "sVVV: stake is locked"
    rpt: uint256 = self._accrue()
    account: uint256 = self._update_account(msg.sender, rpt)
    self._accounts[msg.sender] = account - amount
    self._totals -= amount
    cooling: uint256 = self._cooling(self._cooldowns[msg.sender]) + amount
    unlock: uint256 = block.timestamp + cooldownDuration
    self._cooldowns[msg.sender] = self._cooldown_word(cooling, unlock)
    self._coolingDown += amount
    log IERC20.Transfer(sender=msg.sender, receiver=empty(address), value=amount)
    log UnstakeInitiated(account=msg.sender, amount=amount, coolingDown=cooling, unlockTime=unlock)


@external
@nonreentrant
def finalizeUnstake():
    """
    @notice Pays out the caller's cooldown bucket once its timer has run out.
    """
    packed: uint256 = self._cooldowns[msg.sender]
    amount: uint256 = self._cooling(packed)
    assert amount > 0, "sVVV: nothing to finalize"
    assert block.timestamp >= self._unlock_time(packed), "sVVV: cooldown active"
    # Clears the amount and keeps the unlock time.
    self._cooldowns[msg.sender] = packed ^ amount
    self._coolingDown -= amount
    extcall VVV.transfer(msg.sender, amount)
    log UnstakeFinalized(account=msg.sender, amount=amount)


@external
@nonreentrant
def claim():
    """
    @notice Mints the caller's accrued rewards to the caller.
    """
    amount: uint256 = self._take_rewards(msg.sender)
    extcall VVV.mint(msg.sender, amount)
    log RewardsClaimed(account=msg.sender, amount=amount, restaked=False)


@external
@nonreentrant
def claimAndStake():
    """
    @notice Stakes the caller's accrued rewards for the caller in one call.
    """
    amount: uint256 = self._take_rewards(msg.sender)
    account: uint256 = self._accounts[msg.sender]
    assert amount <= MASK_128 - self._low(account), "sVVV: stake overflow"
    self._accounts[msg.sender] = account + amount
    self._add_stake(amount)
    extcall VVV.mint(self, amount)
    log IERC20.Transfer(sender=empty(address), receiver=msg.sender, value=amount)
    log RewardsClaimed(account=msg.sender, amount=amount, restaked=True)


@external
@nonreentrant
def releaseTreasury():
    """
    @notice Mints to the treasury its share of emissions and of locked yield
            not yet minted. Anyone may call.
    """
    self._accrue()
    due: uint256 = (
        staticcall CONTROLLER.treasuryEmitted()
        + self._locked_cut(self._accrualState)
        - self.treasuryMinted
    )
    assert due > 0, "sVVV: nothing to release"
    self.treasuryMinted += due
    treasury: address = staticcall CONTROLLER.treasury()
    extcall VVV.mint(treasury, due)
    log TreasuryReleased(treasury=treasury, amount=due)


################################################################
#                             DIEM                             #
################################################################


@external
@nonreentrant
def mintDiem(sVVVAmountToLock: uint256, minDiemAmountOut: uint256) -> uint256:
    """
    @notice Locks `sVVVAmountToLock` of the caller's unlocked stake and mints
            DIEM along the curve at the current DIEM supply.
    @param sVVVAmountToLock sVVV in wei.
    @param minDiemAmountOut Slippage bound: revert if fewer DIEM would be minted.
    @return DIEM minted (wei).
    """
    assert sVVVAmountToLock > 0, "sVVV: zero amount"
    diem_out: uint256 = staticcall self._curve().quoteMint(
        self.totalDiemOutstanding, sVVVAmountToLock
    )
    assert diem_out > 0, "sVVV: mints no DIEM"
    assert diem_out >= minDiemAmountOut, "sVVV: slippage"
    self._lock(msg.sender, sVVVAmountToLock, diem_out)
    return diem_out


@external
@nonreentrant
def mintExactDiem(diemAmount: uint256, maxSVVVAmountIn: uint256) -> uint256:
    """
    @notice Mints exactly `diemAmount` DIEM, locking what the curve asks.
    @param diemAmount DIEM in wei.
    @param maxSVVVAmountIn Slippage bound: revert if more sVVV would be locked.
    @return sVVV locked (wei).
    """
    assert diemAmount > 0, "sVVV: zero amount"
    cost: uint256 = staticcall self._curve().quoteCost(
        self.totalDiemOutstanding, diemAmount
    )
    # A curve of rates under 1 sVVV per DIEM could quote dust for free: never mint unlocked.
    assert cost > 0, "sVVV: locks no sVVV"
    assert cost <= maxSVVVAmountIn, "sVVV: slippage"
    self._lock(msg.sender, cost, diemAmount)
    return cost


@external
@nonreentrant
def burnDiem(diemAmount: uint256) -> uint256:
    """
    @notice Burns `diemAmount` of the caller's DIEM against its own lock and
            releases `diemAmount * locked / outstanding` sVVV (rounded down;
            all of it when the last outstanding DIEM is burned).
    @param diemAmount DIEM in wei, at most the caller's outstanding DIEM.
    @return sVVV released (wei).
    """
    assert diemAmount > 0, "sVVV: zero amount"
    packed: uint256 = self._locks[msg.sender]
    locked: uint256 = self._low(packed)
    outstanding: uint256 = self._high(packed)
    assert outstanding > 0, "sVVV: no DIEM outstanding"
    assert diemAmount <= outstanding, "sVVV: burn exceeds outstanding"
    released: uint256 = locked
    if diemAmount < outstanding:
        released = diemAmount * locked // outstanding
    rpt: uint256 = self._accrue()
    self._accounts[msg.sender] = self._update_account(msg.sender, rpt)
    locked -= released
    outstanding -= diemAmount
    self._locks[msg.sender] = self._halves(locked, outstanding)
    self._totals -= self._halves(0, released)
    self.totalDiemOutstanding -= diemAmount
    extcall self.diem.burn(msg.sender, diemAmount)
    log DiemBurned(
        account=msg.sender,
        diemBurned=diemAmount,
        sVVVReleased=released,
        sVVVLockedAmount=locked,
        outstandingDiemAmount=outstanding,
    )
    return released


@view
@external
def getDiemAmountOut(sVVVAmount: uint256) -> uint256:
    """
    @notice DIEM that `mintDiem(sVVVAmount, 0)` would mint in this block.
    @param sVVVAmount sVVV to lock (wei).
    @return DIEM (wei).
    """
    return staticcall self._curve().quoteMint(self.totalDiemOutstanding, sVVVAmount)


@view
@external
def getSVVVAmountIn(diemAmount: uint256) -> uint256:
    """
    @notice sVVV that `mintExactDiem(diemAmount, ...)` would lock in this block.
    @param diemAmount DIEM wanted (wei).
    @return sVVV (wei).
    """
    return staticcall self._curve().quoteCost(self.totalDiemOutstanding, diemAmount)


################################################################
#                     CONTROLLER AND OWNER                     #
################################################################


@external
def setDiem(diem: address, mint_curve: address):
    """
    @notice Wires the DIEM token and its mint curve, once.
    @param diem The DIEM token (its minter must be this contract).
    @param mint_curve The MintCurve.
    """
    ownable._check_owner()
    assert self.diem.address == empty(address), "sVVV: DIEM already set"
    assert diem != empty(address) and mint_curve != empty(address), "sVVV: zero address"
    self.diem = IDIEM(diem)
    self.mintCurve = IMintCurve(mint_curve)
    log DiemSet(diem=diem, mintCurve=mint_curve)


@external
@nonreentrant
def checkpoint():
    """
    @notice Called by the controller before any change of rate or split:
            accrues under the old config and drops the cached rate.
    """
    assert msg.sender == CONTROLLER.address, "sVVV: not controller"
    self._accrue()
    # Keep the accrual time and the treasury's cut; expire the rate cache.
    self._accrualState = self._accrual_word(
        block.timestamp, 0, 0, self._locked_cut(self._accrualState)
    )


@external
def setProThreshold(threshold: uint256):
    """
    @notice Sets the stake that makes an account Pro.
    @param threshold Stake in wei.
    """
    ownable._check_owner()
    self.proThreshold = threshold
    log ProThresholdChanged(threshold=threshold)


################################################################
#                     NON-TRANSFERABLE ERC-20                  #
################################################################


@view
@external
def totalSupply() -> uint256:
    """
    @notice sVVV in existence: all stake not in cooldown, locked included.
    @return sVVV in wei.
    """
    return self._low(self._totals)


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice sVVV is not transferable: always reverts. Unstake instead.
    @param to Unused.
    @param amount Unused.
    @return Never returns.
    """
    raise "sVVV: non-transferable"


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice sVVV is not transferable: always reverts.
    @param owner Unused.
    @param to Unused.
    @param amount Unused.
    @return Never returns.
    """
    raise "sVVV: non-transferable"


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice sVVV is not transferable, so nothing can be approved: always reverts.
    @param spender Unused.
    @param amount Unused.
    @return Never returns.
    """
    raise "sVVV: non-transferable"


@view
@external
def allowance(owner: address, spender: address) -> uint256:
    """
    @notice Always 0: sVVV cannot be approved.
    @param owner Unused.
    @param spender Unused.
    @return 0.
    """
    return 0


################################################################
#                            VIEWS                             #
################################################################


@view
@external
def totalStaked() -> uint256:
    """
    @notice sVVV staked by all accounts, locked included, cooldown excluded.
    @return sVVV in wei.
    """
    return self._low(self._totals)


@view
@external
def totalLocked() -> uint256:
    """
    @notice sVVV locked behind DIEM by all accounts.
    @return sVVV in wei.
    """
    return self._high(self._totals)


@view
@external
def pendingRewards(account: address) -> uint256:
    """
    @notice Rewards `account` would receive by claiming now, to the wei.
    @param account The staker.
    @return VVV in wei.
    """
    rpt: uint256 = 0
    state: uint256 = 0
    rpt, state = self._accrued_view()
    packed: uint256 = self._accounts[account]
    return self._high(packed) + self._earned(account, self._low(packed), rpt)


@view
@external
def cooldowns(account: address) -> (uint256, uint256):
    """
    @notice The account's cooldown bucket: amount and unlock time.
    @param account The staker.
    @return (amount in wei, unlock time), (0, 0) when empty.
    """
    packed: uint256 = self._cooldowns[account]
    amount: uint256 = self._cooling(packed)
    if amount == 0:
        return 0, 0
    return amount, self._unlock_time(packed)


@view
@external
def lastAccrual() -> uint256:
    """
    @notice Time of the last accrual of the accumulator.
    @return Unix time.
    """
    return self._last_accrual(self._accrualState)


@view
@external
def lockedCutAccrued() -> uint256:
    """
    @notice The treasury's cut of locked stakes' yield accrued since deploy.
    @return VVV in wei.
    """
    rpt: uint256 = 0
    state: uint256 = 0
    rpt, state = self._accrued_view()
    return self._locked_cut(state)


@view
@external
def lockedStakes(account: address) -> (uint256, uint256):
    """
    @notice (sVVVLockedAmount, outstandingDiemAmount), as on the real deployment.
    @param account The staker.
    @return (sVVV locked, DIEM outstanding), wei.
    """
    packed: uint256 = self._locks[account]
    return self._low(packed), self._high(packed)


@view
@external
def rewardRate() -> uint256:
    """
    @notice Stakers' emission in wei per second, now.
    @return VVV wei per second.
    """
    state: uint256 = self._accrualState
    # At the cache's horizon itself the new rate is in force.
    if block.timestamp < self._rate_valid_until(state):
        return self._cached_rate(state)
    amount: uint256 = 0
    rate: uint256 = 0
    valid_until: uint256 = 0
    amount, rate, valid_until = staticcall CONTROLLER.accrual(
        block.timestamp, block.timestamp
    )
    return rate


@view
@external
def treasuryReleasable() -> uint256:
    """
    @notice What `releaseTreasury` would mint now.
    @return VVV in wei.
    """
    rpt: uint256 = 0
    state: uint256 = 0
    rpt, state = self._accrued_view()
    return (
        staticcall CONTROLLER.treasuryEmitted()
        + self._locked_cut(state)
        - self.treasuryMinted
    )


@view
@external
def isPro(account: address) -> bool:
    """
    @notice True when the account's stake reaches the Pro threshold.
    @param account The staker.
    @return True when Pro by stake.
    """
    return self.proThreshold > 0 and self._low(self._accounts[account]) >= self.proThreshold


@view
@external
def balanceOf(account: address) -> uint256:
    """
    @notice The account's sVVV: its stake, locked included, cooldown excluded.
    @param account The staker.
    @return sVVV in wei.
    """
    return self._low(self._accounts[account])


@view
@external
def rewards(account: address) -> uint256:
    """
    @notice Rewards accrued as of the account's last update (see pendingRewards).
    @param account The staker.
    @return VVV in wei.
    """
    return self._high(self._accounts[account])


@view
@external
def totalCoolingDown() -> uint256:
    """
    @notice VVV held here for accounts in cooldown.
    @return VVV in wei.
    """
    return self._coolingDown - 1


################################################################
#                           INTERNAL                           #
################################################################


@internal
def _accrue() -> uint256:
    rpt: uint256 = 0
    state: uint256 = 0
    rpt, state = self._accrued_view()
    if state != self._accrualState:
        self.rewardPerTokenStored = rpt
        self._accrualState = state
    return rpt


@view
@internal
def _accrued_view() -> (uint256, uint256):
    # The accumulator and the packed accrual state as of now. Every action
    # runs this: the fields are unpacked and packed inline, as in
    # `_last_accrual` & co. below, since an internal call costs gas (Vyper
    # 0.4.3 does not inline; the helpers here cost about 1% on `stake`).
    state: uint256 = self._accrualState
    last: uint256 = state & MASK_40
    rpt: uint256 = self.rewardPerTokenStored
    if last == block.timestamp:
        return rpt, state
    valid_until: uint256 = (state >> 40) & MASK_40
    rate: uint256 = (state >> 80) & MASK_64
    cut: uint256 = state >> 144
    amount: uint256 = 0
    if block.timestamp <= valid_until:
        amount = (block.timestamp - last) * rate
    else:
        amount, rate, valid_until = staticcall CONTROLLER.accrual(last, block.timestamp)
        assert rate <= MASK_64, "sVVV: rate too large"
        valid_until = min(valid_until, MASK_40)
    totals: uint256 = self._totals
    staked: uint256 = totals & MASK_128
    if staked > 0 and amount > 0:
        delta: uint256 = amount * PRECISION // staked
        rpt += delta
        locked: uint256 = totals >> 128
        if locked > 0:
            cut += locked * delta * LOCKED_TREASURY_BPS // (BPS * PRECISION)
            assert cut <= MASK_112, "sVVV: cut overflow"
    return rpt, (cut << 144) | (rate << 80) | (valid_until << 40) | block.timestamp


@view
@internal
def _earned(account: address, staked: uint256, rpt: uint256) -> uint256:
    # Rewards since the account's last update: full rate on unlocked
    # stake, (1 - treasury cut) on locked stake; each part rounded down.
    # Inline unpacking, as in `_accrued_view`: every action runs this.
    delta: uint256 = rpt - self.userRewardPerTokenPaid[account]
    if delta == 0 or staked == 0:
        return 0
    locked: uint256 = self._locks[account] & MASK_128
    return (staked - locked) * delta // PRECISION + locked * delta * (
        BPS - LOCKED_TREASURY_BPS
    ) // (BPS * PRECISION)


@internal
def _update_account(account: address, rpt: uint256) -> uint256:
    # Folds rewards earned since the last update into the packed word and
    # returns it (the caller writes it back with its stake change). Inline
    # unpacking, as in `_accrued_view`: every action runs this.
    packed: uint256 = self._accounts[account]
    earned: uint256 = self._earned(account, packed & MASK_128, rpt)
    if self.userRewardPerTokenPaid[account] != rpt:
        self.userRewardPerTokenPaid[account] = rpt
    rewards: uint256 = (packed >> 128) + earned
    assert rewards <= MASK_128, "sVVV: rewards overflow"
    return (rewards << 128) | (packed & MASK_128)


@view
@internal
def _curve() -> IMintCurve:
    curve: IMintCurve = self.mintCurve
    assert curve.address != empty(address), "sVVV: DIEM not set"
    return curve


@internal
def _lock(account: address, svvv: uint256, diem_out: uint256):
    # Locks stake behind newly minted DIEM; the account's earnings up to now
    # are settled at the old lock first.
    staked: uint256 = self._low(self._accounts[account])
    packed: uint256 = self._locks[account]
    locked: uint256 = self._low(packed)
    assert svvv <= staked - locked, "sVVV: not enough unlocked stake"
    rpt: uint256 = self._accrue()
    self._accounts[account] = self._update_account(account, rpt)
    locked += svvv
    outstanding: uint256 = self._high(packed) + diem_out
    assert outstanding <= MASK_128, "sVVV: outstanding overflow"
    self._locks[account] = self._halves(locked, outstanding)
    self._totals += self._halves(0, svvv)
    self.totalDiemOutstanding += diem_out
    extcall self.diem.mint(account, diem_out)
    log DiemMinted(
        account=account,
        sVVVLocked=svvv,
        diemMinted=diem_out,
        sVVVLockedAmount=locked,
        outstandingDiemAmount=outstanding,
    )


@internal
def _add_stake(amount: uint256):
    totals: uint256 = self._totals
    assert amount <= MASK_128 - self._low(totals), "sVVV: total overflow"
    self._totals = totals + amount


@internal
def _take_rewards(account: address) -> uint256:
    rpt: uint256 = self._accrue()
    packed: uint256 = self._update_account(account, rpt)
    amount: uint256 = self._high(packed)
    assert amount > 0, "sVVV: nothing to claim"
    self._accounts[account] = self._low(packed)
    return amount


################################################################
#                         PACKED WORDS                         #
################################################################
# `_accounts` (stake | rewards), `_locks` (locked | outstanding DIEM) and
# `_totals` (staked | locked) hold two 128-bit halves: low | high << 128.


@pure
@internal
def _low(word: uint256) -> uint256:
    return word & MASK_128


@pure
@internal
def _high(word: uint256) -> uint256:
    return word >> 128


@pure
@internal
def _halves(low: uint256, high: uint256) -> uint256:
    return (high << 128) | low


# `_cooldowns`: amount cooling down (bits 0-191) | unlock time << 192.


@pure
@internal
def _cooling(word: uint256) -> uint256:
    return word & MASK_192


@pure
@internal
def _unlock_time(word: uint256) -> uint256:
    return word >> 192


@pure
@internal
def _cooldown_word(cooling: uint256, unlock: uint256) -> uint256:
    return (unlock << 192) | cooling


# `_accrualState`: last accrual (bits 0-39) | rate valid until (40-79) |
# cached rate (80-143) | treasury's locked cut (144-255).


@pure
@internal
def _last_accrual(state: uint256) -> uint256:
    return state & MASK_40


@pure
@internal
def _rate_valid_until(state: uint256) -> uint256:
    return (state >> 40) & MASK_40


@pure
@internal
def _cached_rate(state: uint256) -> uint256:
    return (state >> 80) & MASK_64


@pure
@internal
def _locked_cut(state: uint256) -> uint256:
    return state >> 144


@pure
@internal
def _accrual_word(last: uint256, valid_until: uint256, rate: uint256, cut: uint256) -> uint256:
    return (cut << 144) | (rate << 80) | (valid_until << 40) | last
