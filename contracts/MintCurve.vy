# pragma version ~=0.4.3
"""
@title MintCurve
@custom:contract-name MintCurve
@license GNU Affero General Public License v3.0 only
@notice The DIEM mint curve: how much sVVV must be locked per DIEM as DIEM
        supply grows, and the launch mode.
        - The marginal rate (sVVV wei per whole DIEM) is a table of knots
          every `STEP` DIEM of supply, linear between knots; by default
          `90 * exp(2 * (S / 38_000)^3)`, computed off-chain at full
          precision and checked against the published points in tests.
        - C(S), the sVVV it costs to take supply from 0 to S, is exact
          at every knot (an integer); `costTo` rounds it down between knots.
          Minting X sVVV at supply S gives D = Cinv(C(S) + X) - S, where
          Cinv(T) is the largest supply with C <= T, both exact (rational):
          the DIEM's exact cost never exceeds the sVVV locked. Splitting a
          mint into parts never gives more DIEM and gives the same within
          rounding; exact-output mints cost floor C(S + D) - floor C(S),
          which telescopes exactly (so may be below the exact cost by less
          than 1 wei).
        - Launch mode: CLOSED blocks minting, PUNITIVE divides the sVVV
          credited by `punitiveMultiplier` (anti-sniping), OPEN is normal.
        The cost of a quote does not depend on DIEM supply or on the number
        of minters; it walks the knots a single mint crosses (usually 0-1).
"""

from interfaces import IMintCurve

implements: IMintCurve

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


MAX_KNOTS: public(constant(uint256)) = 256
# @dev Knot spacing: 500 DIEM of supply, like the real contract's table.
STEP: public(constant(uint256)) = 500 * 10**18
UNIT: constant(uint256) = 10**18
# @dev Bounds on a knot's rate: above zero, at most 1e9 sVVV per DIEM.
MAX_RATE: public(constant(uint256)) = 10**27
MAX_PUNITIVE: public(constant(uint256)) = 1_000_000
MASK_128: constant(uint256) = 2**128 - 1
CLOSED: public(constant(uint8)) = 0
PUNITIVE: public(constant(uint8)) = 1
OPEN: public(constant(uint8)) = 2


# @dev Packed knots: marginal rate (bits 128-255), C at the knot (0-127).
_knots: uint256[MAX_KNOTS]
# @dev Packed, read in one word per quote: intervals in the table, i.e.
#      knots - 1 (bits 0-15), launch mode (16-23), punitive multiplier (24-).
_config: uint256


event CurveSet:
    knots: uint256
    endSupply: uint256
    firstRate: uint256
    lastRate: uint256


event LaunchModeSet:
    mode: uint8
    punitiveMultiplier: uint256


@deploy
def __init__(rates: DynArray[uint256, MAX_KNOTS], mode: uint8, punitive_multiplier: uint256):
    """
    @notice Deploys the mint curve with its knot table and launch mode.
    @param rates Marginal rate at each knot (sVVV wei per whole DIEM).
    @param mode Launch mode: 0 closed, 1 punitive, 2 open.
    @param punitive_multiplier Divisor of credited sVVV in punitive mode.
    """
    ownable.__init__()
    ownable_2step.__init__()
    self._set_curve(rates)
    self._set_mode(mode, punitive_multiplier)


@external
def setCurve(rates: DynArray[uint256, MAX_KNOTS]):
    """
    @notice Replaces the curve from now on (outstanding DIEM keeps its locks).
    @param rates 2 to 256 knot rates, each in (0, MAX_RATE], non-decreasing.
    """
    ownable._check_owner()
    self._set_curve(rates)


@external
def setLaunchMode(mode: uint8, punitive_multiplier: uint256):
    """
    @notice Opens, closes or makes minting punitive.
    @param mode 0 closed, 1 punitive, 2 open.
    @param punitive_multiplier 2 to 1_000_000 (used in punitive mode).
    """
    ownable._check_owner()
    self._set_mode(mode, punitive_multiplier)


@view
@external
def quoteMint(supply: uint256, svvv_in: uint256) -> uint256:
    """
    @notice DIEM minted for locking `svvv_in` at `supply`.
    @param supply DIEM supply (wei).
    @param svvv_in sVVV to lock (wei).
    @return DIEM (wei): the most whose exact cost is at most the sVVV credited.
    """
    config: uint256 = self._config
    mode: uint8 = convert((config >> 16) & 255, uint8)
    assert mode != CLOSED, "curve: minting closed"
    assert svvv_in <= MASK_128, "curve: amount too large"
    credited: uint256 = svvv_in
    if mode == PUNITIVE:
        credited = svvv_in // (config >> 24)
    n: uint256 = config & 65535
    # C(S) exactly, as whole wei and a remainder over 2 * STEP * UNIT: the
    # inverse gives the largest supply whose exact C is at most C(S) +
    # credited, so the DIEM's exact cost never exceeds the sVVV locked.
    whole: uint256 = 0
    rem: uint256 = 0
    whole, rem = self._cost_to(supply, n)
    return self._inverse(whole + credited, rem, supply, n) - supply


@view
@external
def quoteCost(supply: uint256, diem_out: uint256) -> uint256:
    """
    @notice sVVV to lock for exactly `diem_out` DIEM at `supply`.
    @param supply DIEM supply (wei).
    @param diem_out DIEM wanted (wei).
    @return sVVV (wei): floor C(supply + diem_out) - floor C(supply), times the
            multiplier in punitive mode.
    """
    config: uint256 = self._config
    mode: uint8 = convert((config >> 16) & 255, uint8)
    assert mode != CLOSED, "curve: minting closed"
    n: uint256 = config & 65535
    # As `diem_out < end - supply`, so that no sum can overflow first.
    end: uint256 = n * STEP
    assert supply < end and diem_out < end - supply, "curve: past the end"
    cost: uint256 = 0
    start: uint256 = 0
    rem: uint256 = 0
    cost, rem = self._cost_to(supply + diem_out, n)
    start, rem = self._cost_to(supply, n)
    cost -= start
    if mode == PUNITIVE:
        cost *= config >> 24
    return cost


@view
@external
def rateAt(supply: uint256) -> uint256:
    """
    @notice Marginal sVVV (wei) per whole DIEM at `supply`, before launch mode.
    @param supply DIEM supply (wei), below the end.
    @return sVVV wei per whole DIEM.
    """
    i: uint256 = supply // STEP
    assert i < self._config & 65535, "curve: past the end"
    s: uint256 = supply - i * STEP
    a: uint256 = self._knots[i] >> 128
    b: uint256 = self._knots[i + 1] >> 128
    return a + (b - a) * s // STEP


@view
@external
def costTo(supply: uint256) -> uint256:
    """
    @notice C(supply): sVVV to take DIEM supply from 0 to `supply`.
    @param supply DIEM supply (wei), at most the end.
    @return sVVV (wei), rounded down.
    """
    cost: uint256 = 0
    rem: uint256 = 0
    cost, rem = self._cost_to(supply, self._config & 65535)
    return cost


@view
@external
def intervals() -> uint256:
    """
    @notice Intervals in the table (knots - 1).
    @return The count.
    """
    return self._config & 65535


@view
@external
def launchMode() -> uint8:
    """
    @notice 0 closed, 1 punitive, 2 open.
    @return The mode.
    """
    return convert((self._config >> 16) & 255, uint8)


@view
@external
def punitiveMultiplier() -> uint256:
    """
    @notice Divisor of the sVVV credited in punitive mode.
    @return The divisor.
    """
    return self._config >> 24


@view
@external
def endSupply() -> uint256:
    """
    @notice Supply at which the curve ends; mints reaching it revert.
    @return DIEM supply (wei).
    """
    return (self._config & 65535) * STEP


@view
@external
def knots() -> DynArray[uint256, MAX_KNOTS]:
    """
    @notice The knot rates.
    @return sVVV wei per whole DIEM, one per knot.
    """
    out: DynArray[uint256, MAX_KNOTS] = []
    n: uint256 = self._config & 65535
    for i: uint256 in range(MAX_KNOTS):
        if i > n:
            break
        out.append(self._knots[i] >> 128)
    return out


@view
@internal
def _partial(a: uint256, b: uint256, s: uint256) -> uint256:
    # Numerator of the cost of the first `s` wei of an interval with rates
    # a -> b: (2 * STEP * a * s + (b - a) * s^2) / (2 * STEP * UNIT).
    return 2 * STEP * a * s + (b - a) * s * s


@view
@internal
def _cost_to(supply: uint256, n: uint256) -> (uint256, uint256):
    # C(supply) rounded down, and the remainder dropped (over 2 * STEP * UNIT).
    i: uint256 = supply // STEP
    if i >= n:
        assert supply == n * STEP, "curve: past the end"
        return self._knots[n] & MASK_128, 0
    s: uint256 = supply - i * STEP
    lo: uint256 = self._knots[i]
    a: uint256 = lo >> 128
    b: uint256 = self._knots[i + 1] >> 128
    part: uint256 = self._partial(a, b, s)
    return (lo & MASK_128) + part // (2 * STEP * UNIT), part % (2 * STEP * UNIT)


@view
@internal
def _inverse(target: uint256, rem: uint256, supply: uint256, n: uint256) -> uint256:
    # Largest supply S' >= supply whose exact C(S') is at most target + rem /
    # (2 * STEP * UNIT), rem below that denominator; reverts past the end.
    # Knots' C are whole, so the interval is found from `target` alone.
    assert target < self._knots[n] & MASK_128, "curve: past the end"
    i: uint256 = supply // STEP
    lo: uint256 = self._knots[i]
    hi: uint256 = self._knots[i + 1]
    for _: uint256 in range(MAX_KNOTS):
        if target < hi & MASK_128:
            break
        i += 1
        lo = hi
        hi = self._knots[i + 1]
    a: uint256 = lo >> 128
    b: uint256 = hi >> 128
    # Largest s in [0, STEP) with partial(s) <= (target - C(knot)) * den + rem, built
    # bit by bit from 2**68 down (partial rises with s and is >= the bound from
    # STEP on, so the answer is below STEP < 2**69). Branch-free and a fixed 69
    # rounds: the gas of a quote does not depend on where on the curve it lands.
    # Unchecked math is safe: s < 2**69, 2 * STEP * a <= 1e48 and b - a <= 1e27
    # (rates are bounded by MAX_RATE), so every term stays below 2**230.
    bound: uint256 = (target - (lo & MASK_128)) * (2 * STEP * UNIT) + rem + 1
    linear: uint256 = 2 * STEP * a
    square: uint256 = b - a
    s: uint256 = 0
    for k: uint256 in range(69):
        candidate: uint256 = s | (1 << (68 - k))
        cost: uint256 = unsafe_add(
            unsafe_mul(linear, candidate),
            unsafe_mul(unsafe_mul(square, candidate), candidate),
        )
        s = s | (convert(cost < bound, uint256) << (68 - k))
    return i * STEP + s


@internal
def _set_curve(rates: DynArray[uint256, MAX_KNOTS]):
    n: uint256 = len(rates)
    assert n >= 2, "curve: needs 2 knots"
    cum: uint256 = 0
    for i: uint256 in range(MAX_KNOTS):
        if i >= n:
            break
        r: uint256 = rates[i]
        assert r > 0 and r <= MAX_RATE, "curve: rate out of bounds"
        if i > 0:
            assert r >= rates[i - 1], "curve: rate decreasing"
            # Exact: (r_{i-1} + r_i) / 2 * STEP / UNIT = (r_{i-1} + r_i) * 250.
            cum += (rates[i - 1] + r) * STEP // (2 * UNIT)
        self._knots[i] = (r << 128) | cum
    self._config = (self._config >> 16 << 16) | (n - 1)
    log CurveSet(knots=n, endSupply=(n - 1) * STEP, firstRate=rates[0], lastRate=rates[n - 1])


@internal
def _set_mode(mode: uint8, punitive_multiplier: uint256):
    assert mode <= OPEN, "curve: bad mode"
    assert (
        punitive_multiplier >= 2 and punitive_multiplier <= MAX_PUNITIVE
    ), "curve: bad multiplier"
    self._config = (punitive_multiplier << 24) | (convert(mode, uint256) << 16) | (
        self._config & 65535
    )
    log LaunchModeSet(mode=mode, punitiveMultiplier=punitive_multiplier)
