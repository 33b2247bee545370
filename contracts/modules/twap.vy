# pragma version ~=0.4.3
"""
@title twap
@custom:contract-name twap
@license GNU Affero General Public License v3.0 only
@notice A time-weighted average price from a ring of two observations of a
        cumulative price (a Uniswap V2 pair's UQ112x112 `price0CumulativeLast`
        or `price1CumulativeLast`, counted up to now by the caller), as
        Uniswap's example oracles and Curve's `TWA.vy` keep them.
        - The price is averaged since the newer observation once that one is
          at least `minTwapWindow` old, else since the older one; an
          observation older than `maxTwapAge` is refused.
        - A new observation replaces the older one, at most once per
          `minTwapWindow`: a caller cannot crowd the window out.
        The module holds the ring and the window bounds and reads no pair: the
        contract that initializes it passes the cumulative in. Its reverts
        keep the "buyback:" prefix of the contract it serves.
"""


# @dev Bounds on the window governance may choose.
MIN_TWAP_WINDOW: public(constant(uint256)) = 60
MAX_TWAP_AGE: public(constant(uint256)) = 7 * 86_400
MASK_64: constant(uint256) = 2**64 - 1


# @dev Shortest time a TWAP is averaged over, seconds.
minTwapWindow: public(uint256)
# @dev Oldest observation a TWAP may start from, seconds.
maxTwapAge: public(uint256)

# @dev Two observations of the cumulative price, a ring: `_times` packs
#      time[0] (bits 0-63), time[1] (64-127) and the index of the newer one
#      (bit 128).
_cumulatives: uint256[2]
_times: uint256


event Observed:
    cumulative: uint256
    timestamp: uint256


event TwapWindowChanged:
    minTwapWindow: uint256
    maxTwapAge: uint256


@deploy
def __init__(min_twap_window: uint256, max_twap_age: uint256):
    """
    @notice Sets the TWAP window bounds.
    @dev Sets the window bounds; `_reset` then records the first
         observations.
    @param min_twap_window Shortest TWAP window, seconds.
    @param max_twap_age Oldest observation a TWAP may start from, seconds.
    """
    self._set_window(min_twap_window, max_twap_age)


@view
@external
def observations() -> (uint256, uint256, uint256, uint256):
    """
    @notice The two price observations the TWAP is taken between.
    @dev The older and the newer observation: (time, cumulative) each.
    @return (older time, older cumulative, newer time, newer cumulative).
    """
    times: uint256 = self._times
    newer: uint256 = (times >> 128) & 1
    older: uint256 = 1 - newer
    return (
        (times >> (64 * older)) & MASK_64,
        self._cumulatives[older],
        (times >> (64 * newer)) & MASK_64,
        self._cumulatives[newer],
    )


@internal
def _set_window(min_twap_window: uint256, max_twap_age: uint256):
    assert min_twap_window >= MIN_TWAP_WINDOW, "buyback: window too short"
    assert max_twap_age >= 2 * min_twap_window, "buyback: age below two windows"
    assert max_twap_age <= MAX_TWAP_AGE, "buyback: age too long"
    self.minTwapWindow = min_twap_window
    self.maxTwapAge = max_twap_age
    log TwapWindowChanged(minTwapWindow=min_twap_window, maxTwapAge=max_twap_age)


@internal
def _reset(cumulative: uint256):
    """
    @dev Both observations start now: a TWAP exists once `minTwapWindow`
         passes.
    """
    self._cumulatives = [cumulative, cumulative]
    self._times = block.timestamp | (block.timestamp << 64)
    log Observed(cumulative=cumulative, timestamp=block.timestamp)


@view
@internal
def _twap(cumulative: uint256) -> uint256:
    """
    @dev The price averaged since the newer observation if it is at least
         `minTwapWindow` old, else since the older one.
    """
    times: uint256 = self._times
    index: uint256 = (times >> 128) & 1
    start: uint256 = (times >> (64 * index)) & MASK_64
    window: uint256 = self.minTwapWindow
    if block.timestamp - start < window:
        index = 1 - index
        start = (times >> (64 * index)) & MASK_64
    elapsed: uint256 = block.timestamp - start
    assert elapsed >= window, "buyback: TWAP window too short"
    assert elapsed <= self.maxTwapAge, "buyback: stale TWAP"
    return unsafe_sub(cumulative, self._cumulatives[index]) // elapsed


@internal
def _observe(cumulative: uint256) -> bool:
    """
    @dev Replaces the older observation with `cumulative` at now when the
         newer one is at least `minTwapWindow` old.
    @return True when an observation was recorded.
    """
    times: uint256 = self._times
    newer: uint256 = (times >> 128) & 1
    if block.timestamp - ((times >> (64 * newer)) & MASK_64) < self.minTwapWindow:
        return False
    slot: uint256 = 1 - newer
    self._cumulatives[slot] = cumulative
    times &= ~((MASK_64 << (64 * slot)) | (1 << 128))
    self._times = times | (block.timestamp << (64 * slot)) | (slot << 128)
    log Observed(cumulative=cumulative, timestamp=block.timestamp)
    return True
