# pragma version ~=0.4.3
"""
@title BuybackBurner
@custom:contract-name BuybackBurner
@license GNU Affero General Public License v3.0 only
@notice Buys VVV with revenue (USDC) on a Uniswap V2 pool and burns every
        VVV it receives, so `totalSupply` falls by exactly what was bought.
        - Revenue is whatever USDC this contract holds: the subscriptions
          contract sends the burn part of each payment here, and anyone may
          send more.
        - Only a keeper may buy back, with an amount in (at most the per-call
          cap), a minimum VVV out and a deadline, all mandatory.
        - Price guard: the contract keeps two observations of the pair's
          cumulative price (`modules/twap.vy`) and from them a time-weighted
          price over at least `minTwapWindow` seconds (refusing one older
          than `maxTwapAge`). A
          buyback is refused when the pool's spot price strays more than
          `maxDeviationBps` from it, and the keeper's minimum out may not be
          below the TWAP's amount less `maxSlippageBps`. A sandwich therefore
          either makes the call revert or costs it at most that bound.
        - VVV sent here directly is burned by anyone's `burnVvv`.
        - Governance may recover other tokens sent by mistake, never VVV or
          the revenue token.
@custom:security The router is immutable and approved for the revenue token
                 once, at deploy. The keeper chooses when and how much (within
                 the cap), never the price floor.
"""

from ethereum.ercs import IERC20

from interfaces import IBuybackBurner
from interfaces import IUniswapV2Factory
from interfaces import IUniswapV2Pair
from interfaces import IUniswapV2Router
from interfaces import IVVV

implements: IBuybackBurner

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

from modules import twap

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: twap

exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    twap.MIN_TWAP_WINDOW,
    twap.MAX_TWAP_AGE,
    twap.minTwapWindow,
    twap.maxTwapAge,
    twap.observations,
)


BPS: public(constant(uint256)) = 10_000
# @dev Prices are UQ112x112 fixed point, as in the pair's cumulatives.
Q112: constant(uint256) = 2**112
# @dev A deadline later than this after the call is not a deadline.
MAX_DEADLINE_DELAY: public(constant(uint256)) = 3_600
# @dev Bound on the deviation and slippage governance may choose (the
#      window's bounds are the twap module's).
MAX_BOUND_BPS: public(constant(uint256)) = 2_000
MASK_32: constant(uint256) = 2**32 - 1


VVV: public(immutable(IVVV))
USDC: public(immutable(IERC20))
ROUTER: public(immutable(IUniswapV2Router))
PAIR: public(immutable(IUniswapV2Pair))
# @dev True when the revenue token is the pair's token0, so that the pair's
#      price0 (token1 per token0) is VVV per USDC.
_USDC_IS_TOKEN0: immutable(bool)


isKeeper: public(HashMap[address, bool])
# @dev Most USDC (base units) one buyback may spend.
maxAmountIn: public(uint256)
# @dev Most the spot price may stray from the TWAP.
maxDeviationBps: public(uint256)
# @dev Most the keeper's minimum out may sit below the TWAP's amount.
maxSlippageBps: public(uint256)

totalSpent: public(uint256)
totalBought: public(uint256)
totalBurned: public(uint256)


event BuybackExecuted:
    keeper: indexed(address)
    amountIn: uint256
    vvvBought: uint256
    vvvBurned: uint256
    spotPrice: uint256
    twapPrice: uint256


event Burned:
    caller: indexed(address)
    amount: uint256


event KeeperSet:
    keeper: indexed(address)
    enabled: bool


event LimitsChanged:
    maxAmountIn: uint256
    maxDeviationBps: uint256
    maxSlippageBps: uint256


event TokenRecovered:
    token: indexed(address)
    to: indexed(address)
    amount: uint256


@deploy
def __init__(
    vvv: address,
    usdc: address,
    router: address,
    keeper: address,
    max_amount_in: uint256,
    max_deviation_bps: uint256,
    max_slippage_bps: uint256,
    min_twap_window: uint256,
    max_twap_age: uint256,
):
    """
    @notice Deploys the buyback-burner for one VVV/USDC Uniswap V2 pool, with its keeper and
            price bounds.
    @param vvv The token bought and burned.
    @param usdc The revenue token.
    @param router A Uniswap V2-compatible router; its factory must have a
           VVV/USDC pair.
    @param keeper The first keeper (may be empty).
    @param max_amount_in Per-call cap in USDC base units.
    @param max_deviation_bps Spot-to-TWAP bound.
    @param max_slippage_bps Minimum-out floor below the TWAP's amount.
    @param min_twap_window Shortest TWAP window, seconds.
    @param max_twap_age Oldest observation a TWAP may start from, seconds.
    """
    ownable.__init__()
    ownable_2step.__init__()
    assert vvv != empty(address) and usdc != empty(address), "buyback: zero address"
    assert vvv != usdc, "buyback: same token"
    ROUTER = IUniswapV2Router(router)
    factory: IUniswapV2Factory = IUniswapV2Factory(staticcall ROUTER.factory())
    pair: address = staticcall factory.getPair(usdc, vvv)
    assert pair != empty(address), "buyback: no VVV/USDC pair"
    VVV = IVVV(vvv)
    USDC = IERC20(usdc)
    PAIR = IUniswapV2Pair(pair)
    _USDC_IS_TOKEN0 = staticcall PAIR.token0() == usdc
    self._set_limits(max_amount_in, max_deviation_bps, max_slippage_bps)
    twap.__init__(min_twap_window, max_twap_age)
    if keeper != empty(address):
        self.isKeeper[keeper] = True
        log KeeperSet(keeper=keeper, enabled=True)
    cumulative: uint256 = 0
    spot: uint256 = 0
    cumulative, spot = self._current()
    twap._reset(cumulative)
    # The router pulls exactly `amount_in` per swap; one approval at deploy.
    assert extcall USDC.approve(router, max_value(uint256), default_return_value=True)


@external
@nonreentrant
def buyback(amount_in: uint256, min_vvv_out: uint256, deadline: uint256) -> uint256:
    """
    @notice Swaps `amount_in` USDC for VVV through the router and burns all the
            VVV this contract holds. Only a keeper may call.
    @param amount_in USDC base units, at most `maxAmountIn`.
    @param min_vvv_out Least VVV (wei) the swap may return; at least the
           floor `quote(amount_in)` gives.
    @param deadline Unix time after which the swap fails; within
           `MAX_DEADLINE_DELAY` of now.
    @return The VVV burned (bought plus any sent here directly).
    """
    assert self.isKeeper[msg.sender], "buyback: not keeper"
    assert amount_in > 0, "buyback: zero amount"
    assert amount_in <= self.maxAmountIn, "buyback: above per-call cap"
    assert min_vvv_out > 0, "buyback: zero min out"
    assert deadline >= block.timestamp, "buyback: deadline passed"
    assert deadline <= block.timestamp + MAX_DEADLINE_DELAY, "buyback: deadline too far"
    assert amount_in <= staticcall USDC.balanceOf(self), "buyback: not enough revenue"

    cumulative: uint256 = 0
    spot: uint256 = 0
    cumulative, spot = self._current()
    average: uint256 = twap._twap(cumulative)
    difference: uint256 = spot - average if spot > average else average - spot
    assert difference * BPS <= average * self.maxDeviationBps, "buyback: spot strays from TWAP"
    assert min_vvv_out >= self._floor(amount_in, average), "buyback: min out below TWAP floor"
    twap._observe(cumulative)

    amounts: DynArray[uint256, 2] = extcall ROUTER.swapExactTokensForTokens(
        amount_in, min_vvv_out, [USDC.address, VVV.address], self, deadline
    )
    bought: uint256 = amounts[1]
    burned: uint256 = staticcall VVV.balanceOf(self)
    extcall VVV.burn(burned)
    self.totalSpent += amount_in
    self.totalBought += bought
    self.totalBurned += burned
    log BuybackExecuted(
        keeper=msg.sender,
        amountIn=amount_in,
        vvvBought=bought,
        vvvBurned=burned,
        spotPrice=spot,
        twapPrice=average,
    )
    return burned


@external
@nonreentrant
def burnVvv() -> uint256:
    """
    @notice Burns all VVV sent to this contract directly. Anyone may call.
    @return The VVV burned.
    """
    amount: uint256 = staticcall VVV.balanceOf(self)
    assert amount > 0, "buyback: nothing to burn"
    extcall VVV.burn(amount)
    self.totalBurned += amount
    log Burned(caller=msg.sender, amount=amount)
    return amount


@external
def update() -> bool:
    """
    @notice Records an observation of the pair's cumulative price when the
            newer one is at least `minTwapWindow` old. Anyone may call; a
            keeper calls it between buybacks so a fresh TWAP is always at hand.
    @return True when an observation was recorded.
    """
    cumulative: uint256 = 0
    spot: uint256 = 0
    cumulative, spot = self._current()
    return twap._observe(cumulative)


@view
@external
def spotPrice() -> uint256:
    """
    @notice VVV (wei) per USDC base unit, UQ112x112, from the pool's reserves.
    @return The spot price, UQ112x112.
    """
    cumulative: uint256 = 0
    spot: uint256 = 0
    cumulative, spot = self._current()
    return spot


@view
@external
def twapPrice() -> uint256:
    """
    @notice VVV (wei) per USDC base unit, UQ112x112, time-weighted; reverts
            when no observation is usable (too fresh or stale).
    @return The TWAP, UQ112x112.
    """
    cumulative: uint256 = 0
    spot: uint256 = 0
    cumulative, spot = self._current()
    return twap._twap(cumulative)


@view
@external
def quote(amount_in: uint256) -> (uint256, uint256):
    """
    @notice What `amount_in` USDC buys at the TWAP (no fee, no price impact)
            and the least `min_vvv_out` a buyback of it accepts.
    @param amount_in USDC in base units.
    @return (VVV out at the TWAP, least `min_vvv_out` accepted), wei.
    """
    cumulative: uint256 = 0
    spot: uint256 = 0
    cumulative, spot = self._current()
    average: uint256 = twap._twap(cumulative)
    return amount_in * average // Q112, self._floor(amount_in, average)


@external
def setKeeper(keeper: address, enabled: bool):
    """
    @notice Grants or revokes the keeper role. Only the owner may call.
    @param keeper The account, not zero.
    @param enabled True to grant, False to revoke.
    """
    ownable._check_owner()
    assert keeper != empty(address), "buyback: zero address"
    self.isKeeper[keeper] = enabled
    log KeeperSet(keeper=keeper, enabled=enabled)


@external
def setLimits(max_amount_in: uint256, max_deviation_bps: uint256, max_slippage_bps: uint256):
    """
    @notice Sets the per-call cap and the price bounds. Only the owner may call.
    @param max_amount_in Most USDC (base units) one buyback may spend.
    @param max_deviation_bps Most the spot price may be from the TWAP (bps).
    @param max_slippage_bps Most `min_vvv_out` may be below the TWAP amount (bps).
    """
    ownable._check_owner()
    self._set_limits(max_amount_in, max_deviation_bps, max_slippage_bps)


@external
def setTwapWindow(min_twap_window: uint256, max_twap_age: uint256):
    """
    @notice Sets the TWAP window bounds. Only the owner may call.
    @param min_twap_window Shortest TWAP window, seconds.
    @param max_twap_age Oldest observation a TWAP may start from, seconds.
    """
    ownable._check_owner()
    twap._set_window(min_twap_window, max_twap_age)


@external
def recoverToken(token: address, to: address, amount: uint256):
    """
    @notice Sends a token sent here by mistake to `to`. Never VVV (it is
            burned) nor the revenue token (it buys VVV). Only the owner may call.
    @param token The token to send back.
    @param to The receiver, not zero.
    @param amount Amount in the token's base units.
    """
    ownable._check_owner()
    assert token != VVV.address and token != USDC.address, "buyback: token not recoverable"
    assert to != empty(address), "buyback: zero address"
    assert extcall IERC20(token).transfer(to, amount, default_return_value=True)
    log TokenRecovered(token=token, to=to, amount=amount)


@internal
def _set_limits(max_amount_in: uint256, max_deviation_bps: uint256, max_slippage_bps: uint256):
    assert max_amount_in > 0, "buyback: zero cap"
    assert max_amount_in <= 2**112, "buyback: cap too large"
    assert 0 < max_deviation_bps and max_deviation_bps <= MAX_BOUND_BPS, "buyback: bad deviation"
    assert 0 < max_slippage_bps and max_slippage_bps <= MAX_BOUND_BPS, "buyback: bad slippage"
    self.maxAmountIn = max_amount_in
    self.maxDeviationBps = max_deviation_bps
    self.maxSlippageBps = max_slippage_bps
    log LimitsChanged(
        maxAmountIn=max_amount_in,
        maxDeviationBps=max_deviation_bps,
        maxSlippageBps=max_slippage_bps,
    )


@view
@internal
def _current() -> (uint256, uint256):
    """
    @dev The pair's cumulative price of USDC in VVV as of now (counting the
         time since its last update at the current reserves, as Uniswap's
         oracle library does) and the spot price, both UQ112x112. Solidity
         0.5 lets the cumulative and the 32-bit clock wrap; so do we.
    """
    reserve0: uint112 = 0
    reserve1: uint112 = 0
    last: uint32 = 0
    reserve0, reserve1, last = staticcall PAIR.getReserves()
    reserve_usdc: uint256 = convert(reserve0, uint256)
    reserve_vvv: uint256 = convert(reserve1, uint256)
    cumulative: uint256 = 0
    if _USDC_IS_TOKEN0:
        cumulative = staticcall PAIR.price0CumulativeLast()
    else:
        reserve_usdc = convert(reserve1, uint256)
        reserve_vvv = convert(reserve0, uint256)
        cumulative = staticcall PAIR.price1CumulativeLast()
    assert reserve_usdc > 0 and reserve_vvv > 0, "buyback: empty pool"
    spot: uint256 = (reserve_vvv << 112) // reserve_usdc
    elapsed: uint256 = unsafe_sub(block.timestamp & MASK_32, convert(last, uint256)) & MASK_32
    cumulative = unsafe_add(cumulative, unsafe_mul(spot, elapsed))
    return cumulative, spot


@view
@internal
def _floor(amount_in: uint256, average: uint256) -> uint256:
    """
    @dev The least VVV out a buyback of `amount_in` accepts, rounded up (in
         the protocol's favour).
    """
    numerator: uint256 = amount_in * average * (BPS - self.maxSlippageBps)
    denominator: uint256 = Q112 * BPS
    return (numerator + denominator - 1) // denominator
