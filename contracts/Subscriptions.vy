# pragma version ~=0.4.3
"""
@title Subscriptions
@custom:contract-name Subscriptions
@license GNU Affero General Public License v3.0 only
@notice Paid tiers in USDC, each 30-day period of which burns a fixed USD
        amount of VVV.
        - Governance sets up to four tiers: a price per 30 days and the part
          of it that buys VVV to burn (defaults: Pro $18 burning $2, Pro+
          and Max burning $5 and $10).
        - Anyone subscribes or extends for 1 to 36 periods, for themselves
          or as a gift. Each tier has its own expiry per account, so a gift
          of one tier never shortens or blocks another.
        - The burn part goes to the buyback-burner, the rest to the treasury,
          straight from the payer: this contract holds no funds.
        - Every tier grants Pro. Pro is also earned by staking at least the
          staking contract's threshold (100 VVV); `proStatus` says which.
@custom:security Governance sets prices, the treasury and the burner; it
                 cannot touch a subscription already paid for.
"""

from ethereum.ercs import IERC20

from interfaces import IStakedVVV
from interfaces import ISubscriptions

implements: ISubscriptions

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


PERIOD: public(constant(uint256)) = 30 * 86_400
MAX_PERIODS: public(constant(uint256)) = 36
MAX_TIERS: public(constant(uint256)) = 4
# @dev Highest price a tier may have per period: 1M USDC (6 decimals).
MAX_PRICE: public(constant(uint256)) = 10**12
MASK_64: constant(uint256) = 2**64 - 1
MASK_128: constant(uint256) = 2**128 - 1


USDC: public(immutable(IERC20))
STAKING: public(immutable(IStakedVVV))

treasury: public(address)
burner: public(address)
# @dev Per tier: price per period (bits 0-127) | burn part (128-255), USDC
#      base units. A price of 0 means the tier is not offered.
_tiers: uint256[MAX_TIERS]
# @dev Per account: the expiry of each tier, 64 bits each (tier i at 64*i).
_expiries: HashMap[address, uint256]
# @dev USDC paid in total (bits 0-127) | sent to the burner (128-255).
_totals: uint256


event Subscribed:
    payer: indexed(address)
    recipient: indexed(address)
    tier: indexed(uint256)
    periods: uint256
    paid: uint256
    burnPart: uint256
    expiry: uint256


event TierSet:
    tier: indexed(uint256)
    price: uint256
    burnPart: uint256


event TreasuryChanged:
    treasury: indexed(address)


event BurnerChanged:
    burner: indexed(address)


@deploy
def __init__(
    usdc: address,
    staking: address,
    treasury: address,
    burner: address,
    prices: DynArray[uint256, MAX_TIERS],
    burn_parts: DynArray[uint256, MAX_TIERS],
):
    """
    @notice Deploys the subscriptions with their tiers, paid in USDC to the treasury and the
            buyback-burner.
    @param usdc The payment token.
    @param staking The sVVV contract (Pro by stake).
    @param treasury Receives the rest of each payment.
    @param burner The buyback-burner; receives the burn part.
    @param prices Tier prices per 30 days, USDC base units (tier 0 = Pro).
    @param burn_parts The part of each price that buys VVV to burn.
    """
    ownable.__init__()
    ownable_2step.__init__()
    assert usdc != empty(address) and staking != empty(address), "subs: zero address"
    assert treasury != empty(address) and burner != empty(address), "subs: zero address"
    assert len(prices) == len(burn_parts), "subs: length mismatch"
    USDC = IERC20(usdc)
    STAKING = IStakedVVV(staking)
    self.treasury = treasury
    self.burner = burner
    for i: uint256 in range(MAX_TIERS):
        if i >= len(prices):
            break
        self._set_tier(i, prices[i], burn_parts[i])


@external
def subscribe(tier: uint256, periods: uint256, recipient: address) -> uint256:
    """
    @notice Pays for `periods` of `tier` for `recipient` (the caller or a gift),
            extending from the current expiry if it has not passed.
    @param tier 0 (Pro) to MAX_TIERS - 1.
    @param periods 1 to MAX_PERIODS periods of 30 days.
    @param recipient Who gets the subscription.
    @return The new expiry of the recipient's tier.
    """
    assert tier < MAX_TIERS, "subs: unknown tier"
    assert periods > 0 and periods <= MAX_PERIODS, "subs: periods out of range"
    assert recipient != empty(address), "subs: zero recipient"
    packed: uint256 = self._tiers[tier]
    price: uint256 = packed & MASK_128
    assert price > 0, "subs: tier not offered"
    cost: uint256 = price * periods
    burn_part: uint256 = (packed >> 128) * periods
    assert staticcall USDC.balanceOf(msg.sender) >= cost, "subs: not enough USDC"
    assert staticcall USDC.allowance(msg.sender, self) >= cost, "subs: approve USDC first"

    offset: uint256 = 64 * tier
    expiries: uint256 = self._expiries[recipient]
    expiry: uint256 = max((expiries >> offset) & MASK_64, block.timestamp) + periods * PERIOD
    # Kept in 64 bits beside the other tiers' expiries: never let it spill into them.
    assert expiry <= MASK_64, "subs: expiry too far"
    self._expiries[recipient] = (expiries & ~(MASK_64 << offset)) | (expiry << offset)
    totals: uint256 = self._totals
    self._totals = (
        ((totals & MASK_128) + cost) | (((totals >> 128) + burn_part) << 128)
    )

    # Both receivers are read before the first transfer: a payment token that calls back
    # cannot redirect the rest of this payment by a governance change in between.
    burner: address = self.burner
    treasury: address = self.treasury
    if burn_part > 0:
        assert extcall USDC.transferFrom(
            msg.sender, burner, burn_part, default_return_value=True
        )
    if cost > burn_part:
        assert extcall USDC.transferFrom(
            msg.sender, treasury, cost - burn_part, default_return_value=True
        )
    log Subscribed(
        payer=msg.sender,
        recipient=recipient,
        tier=tier,
        periods=periods,
        paid=cost,
        burnPart=burn_part,
        expiry=expiry,
    )
    return expiry


@view
@external
def tiers(tier: uint256) -> (uint256, uint256):
    """
    @notice A tier's (price per period, burn part), USDC base units.
    @param tier 0 to MAX_TIERS - 1.
    @return (price, burn part), USDC base units.
    """
    assert tier < MAX_TIERS, "subs: unknown tier"
    packed: uint256 = self._tiers[tier]
    return packed & MASK_128, packed >> 128


@view
@external
def expiryOf(account: address, tier: uint256) -> uint256:
    """
    @notice When the account's subscription to `tier` ends (0 if never).
    @param account The subscriber.
    @param tier 0 to MAX_TIERS - 1.
    @return Unix time.
    """
    assert tier < MAX_TIERS, "subs: unknown tier"
    return (self._expiries[account] >> (64 * tier)) & MASK_64


@view
@external
def proUntil(account: address) -> uint256:
    """
    @notice The latest expiry over the account's tiers (every tier is Pro);
            in the past or 0 when it has none running.
    @param account The subscriber.
    @return Unix time.
    """
    return self._pro_until(account)


@view
@external
def isPro(account: address) -> bool:
    """
    @notice Pro by a running subscription or by stake.
    @param account The account.
    @return True when Pro either way.
    """
    return self._pro_until(account) > block.timestamp or staticcall STAKING.isPro(account)


@view
@external
def proStatus(account: address) -> (bool, bool, uint256):
    """
    @notice Which way the account is Pro: (by stake, by subscription, until
            when the subscription runs).
    @param account The account.
    @return (Pro by stake, Pro by subscription, subscription expiry).
    """
    until: uint256 = self._pro_until(account)
    return staticcall STAKING.isPro(account), until > block.timestamp, until


@view
@external
def totalPaid() -> uint256:
    """
    @notice USDC paid for subscriptions in total.
    @return USDC in base units.
    """
    return self._totals & MASK_128


@view
@external
def totalBurnPart() -> uint256:
    """
    @notice USDC of it sent to the buyback-burner.
    @return USDC in base units.
    """
    return self._totals >> 128


@external
def setTier(tier: uint256, price: uint256, burn_part: uint256):
    """
    @notice Sets a tier's price and burn part (price 0 withdraws the tier;
            running subscriptions keep their expiry). Only the owner may call.
    @param tier 0 to MAX_TIERS - 1.
    @param price USDC base units per 30 days, at most MAX_PRICE.
    @param burn_part Part of the price that buys VVV to burn, at most the price.
    """
    ownable._check_owner()
    self._set_tier(tier, price, burn_part)


@external
def setTreasury(treasury: address):
    """
    @notice Sets who receives the non-burn part of payments. Only the owner may call.
    @param treasury The new treasury, not zero.
    """
    ownable._check_owner()
    assert treasury != empty(address), "subs: zero address"
    self.treasury = treasury
    log TreasuryChanged(treasury=treasury)


@external
def setBurner(burner: address):
    """
    @notice Sets where the burn part of payments goes. Only the owner may call.
    @param burner The new buyback-burner, not zero.
    """
    ownable._check_owner()
    assert burner != empty(address), "subs: zero address"
    self.burner = burner
    log BurnerChanged(burner=burner)


@internal
def _set_tier(tier: uint256, price: uint256, burn_part: uint256):
    assert tier < MAX_TIERS, "subs: unknown tier"
    assert price <= MAX_PRICE, "subs: price too high"
    assert burn_part <= price, "subs: burn above price"
    self._tiers[tier] = price | (burn_part << 128)
    log TierSet(tier=tier, price=price, burnPart=burn_part)


@view
@internal
def _pro_until(account: address) -> uint256:
    expiries: uint256 = self._expiries[account]
    until: uint256 = 0
    for i: uint256 in range(MAX_TIERS):
        until = max(until, (expiries >> (64 * i)) & MASK_64)
    return until
