"""Mirror of value capture: the Uniswap V2 pair's swap and price accumulator,
`contracts/BuybackBurner.vy` and `contracts/Subscriptions.vy`, with a USDC ledger.

Holders are plain strings, as in `SystemModel`: the caller names the pair, the burner and the
treasury (the stateful tests use the contracts' addresses). VVV itself lives in
`SystemModel.balances`; `SystemModel.buyback` moves the VVV the pair pays out and burns it.
A subscriber is taken to have approved the subscriptions contract for its USDC: allowances
are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from venice_sdk.model.emissions import BPS, ModelRevert, require

__all__ = [
    "MASK_32",
    "MASK_64",
    "MAX_DEADLINE_DELAY",
    "MAX_PERIODS",
    "MAX_PRICE",
    "MAX_TIERS",
    "PERIOD",
    "Q112",
    "UINT256",
    "BurnerModel",
    "PairModel",
    "SubscriptionsModel",
    "ValueModel",
    "get_amount_out",
]

Q112 = 2**112
MASK_32 = 2**32 - 1
MASK_64 = 2**64 - 1
UINT256 = 2**256
MAX_DEADLINE_DELAY = 3_600
PERIOD = 30 * 86_400
MAX_PERIODS = 36
MAX_TIERS = 4
MAX_PRICE = 10**12


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut: 0.3% fee, rounded down."""
    require(amount_in > 0, "UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT")
    require(reserve_in > 0 and reserve_out > 0, "UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1_000 + with_fee)


@dataclass
class PairModel:
    """A Uniswap V2 pair of USDC and VVV: reserves, and the cumulative price of USDC in VVV
    (UQ112x112 times seconds, wrapping at 2**256) as of `last` (the pair's 32-bit clock)."""

    reserve_usdc: int
    reserve_vvv: int
    cumulative: int
    last: int

    def spot(self) -> int:
        require(self.reserve_usdc > 0 and self.reserve_vvv > 0, "buyback: empty pool")
        return (self.reserve_vvv << 112) // self.reserve_usdc

    def current(self, now: int) -> tuple[int, int]:
        """(cumulative as of `now`, spot): the burner's counterfactual read of the oracle."""
        spot = self.spot()
        elapsed = ((now & MASK_32) - self.last) & MASK_32
        return (self.cumulative + spot * elapsed) % UINT256, spot

    def amount_out(self, amount_in: int) -> int:
        """UniswapV2Library.getAmountOut for USDC in, VVV out (0.3% fee, rounded down)."""
        return get_amount_out(amount_in, self.reserve_usdc, self.reserve_vvv)

    def usdc_out(self, vvv_in: int) -> int:
        """UniswapV2Library.getAmountOut for VVV in, USDC out."""
        return get_amount_out(vvv_in, self.reserve_vvv, self.reserve_usdc)

    def _update(self, now: int, reserve_usdc: int, reserve_vvv: int) -> None:
        """The pair's `_update`: accumulate the price at the old reserves, then store."""
        clock = now & MASK_32
        elapsed = (clock - self.last) & MASK_32
        if elapsed > 0:
            self.cumulative = (self.cumulative + self.spot() * elapsed) % UINT256
        self.reserve_usdc, self.reserve_vvv, self.last = reserve_usdc, reserve_vvv, clock

    def swap_usdc_for_vvv(self, now: int, amount_in: int) -> int:
        """A swap of `amount_in` USDC at `now`; returns the VVV out."""
        out = self.amount_out(amount_in)
        require(out > 0, "UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT")
        self._update(now, self.reserve_usdc + amount_in, self.reserve_vvv - out)
        return out

    def swap_vvv_for_usdc(self, now: int, vvv_in: int) -> int:
        """A swap of `vvv_in` VVV at `now`; returns the USDC out."""
        out = self.usdc_out(vvv_in)
        require(out > 0, "UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT")
        self._update(now, self.reserve_usdc - out, self.reserve_vvv + vvv_in)
        return out


@dataclass
class BurnerModel:
    """The buyback-burner's price guard and totals. Observations are (time, cumulative)."""

    max_amount_in: int
    max_deviation_bps: int
    max_slippage_bps: int
    min_twap_window: int
    max_twap_age: int
    older: tuple[int, int]
    newer: tuple[int, int]
    keepers: set[str] = field(default_factory=set)
    total_spent: int = 0
    total_bought: int = 0
    total_burned: int = 0

    def twap(self, now: int, cumulative: int) -> int:
        start, base = self.newer
        if now - start < self.min_twap_window:
            start, base = self.older
        elapsed = now - start
        require(elapsed >= self.min_twap_window, "buyback: TWAP window too short")
        require(elapsed <= self.max_twap_age, "buyback: stale TWAP")
        return ((cumulative - base) % UINT256) // elapsed

    def floor(self, amount_in: int, twap: int) -> int:
        """Least VVV out a buyback of `amount_in` accepts, rounded up."""
        numerator = amount_in * twap * (BPS - self.max_slippage_bps)
        denominator = Q112 * BPS
        return (numerator + denominator - 1) // denominator

    def observe(self, now: int, cumulative: int) -> bool:
        if now - self.newer[0] < self.min_twap_window:
            return False
        self.older, self.newer = self.newer, (now, cumulative)
        return True


@dataclass
class SubscriptionsModel:
    """Tiers (price per 30 days, burn part) and each (account, tier)'s expiry."""

    tiers: list[tuple[int, int]]
    expiries: dict[tuple[str, int], int] = field(default_factory=dict)
    total_paid: int = 0
    total_burn_part: int = 0

    def expiry_of(self, account: str, tier: int) -> int:
        return self.expiries.get((account, tier), 0)

    def pro_until(self, account: str) -> int:
        return max(self.expiry_of(account, tier) for tier in range(MAX_TIERS))

    def active(self, now: int) -> int:
        """Accounts with any tier running at `now`."""
        return len({account for (account, _), end in self.expiries.items() if end > now})

    def set_tier(self, tier: int, price: int, burn_part: int) -> None:
        require(tier < MAX_TIERS, "subs: unknown tier")
        require(price <= MAX_PRICE, "subs: price too high")
        require(burn_part <= price, "subs: burn above price")
        while len(self.tiers) <= tier:
            self.tiers.append((0, 0))
        self.tiers[tier] = (price, burn_part)


@dataclass
class ValueModel:
    """USDC balances, the pair, the burner and the subscriptions, named by their holders."""

    pair: PairModel
    burner: BurnerModel
    subscriptions: SubscriptionsModel
    pool: str  # the pair's holder name (VVV in `SystemModel.balances`, USDC here)
    burner_holder: str
    treasury: str
    usdc: dict[str, int] = field(default_factory=dict)
    usdc_minted: int = 0

    def usdc_balance(self, holder: str) -> int:
        return self.usdc.get(holder, 0)

    @property
    def usdc_supply(self) -> int:
        return sum(self.usdc.values())

    def _move_usdc(self, sender: str, receiver: str, amount: int) -> None:
        require(self.usdc_balance(sender) >= amount, "erc20: transfer amount exceeds balance")
        self.usdc[sender] = self.usdc_balance(sender) - amount
        self.usdc[receiver] = self.usdc_balance(receiver) + amount

    def mint_usdc(self, receiver: str, amount: int) -> None:
        self.usdc[receiver] = self.usdc_balance(receiver) + amount
        self.usdc_minted += amount

    def transfer_usdc(self, sender: str, receiver: str, amount: int) -> None:
        self._move_usdc(sender, receiver, amount)

    # --- subscriptions -------------------------------------------------------------------

    def subscribe(self, now: int, payer: str, tier: int, periods: int, recipient: str) -> int:
        """Returns the recipient's new expiry of `tier`."""
        require(tier < MAX_TIERS, "subs: unknown tier")
        require(0 < periods <= MAX_PERIODS, "subs: periods out of range")
        require(recipient != "", "subs: zero recipient")
        s = self.subscriptions
        price, burn = s.tiers[tier]
        require(price > 0, "subs: tier not offered")
        cost, burn_part = price * periods, burn * periods
        require(self.usdc_balance(payer) >= cost, "subs: not enough USDC")
        expiry = max(s.expiry_of(recipient, tier), now) + periods * PERIOD
        require(expiry <= MASK_64, "subs: expiry too far")
        s.expiries[(recipient, tier)] = expiry
        s.total_paid += cost
        s.total_burn_part += burn_part
        self._move_usdc(payer, self.burner_holder, burn_part)
        self._move_usdc(payer, self.treasury, cost - burn_part)
        return expiry

    # --- buyback -------------------------------------------------------------------------

    def guard(self, now: int, amount_in: int) -> int | None:
        """The least min out a buyback of `amount_in` would accept at `now`, or None while
        the TWAP is unusable or the spot strays from it (what a keeper checks first)."""
        try:
            cumulative, spot = self.pair.current(now)
            twap = self.burner.twap(now, cumulative)
        except ModelRevert:
            return None
        if abs(spot - twap) * BPS > twap * self.burner.max_deviation_bps:
            return None
        return self.burner.floor(amount_in, twap)

    def quote(self, now: int, amount_in: int) -> tuple[int, int]:
        """`BuybackBurner.quote`: (VVV at the TWAP, the least min out a buyback accepts)."""
        cumulative, _ = self.pair.current(now)
        twap = self.burner.twap(now, cumulative)
        return amount_in * twap // Q112, self.burner.floor(amount_in, twap)

    def update(self, now: int) -> bool:
        cumulative, _ = self.pair.current(now)
        return self.burner.observe(now, cumulative)

    def buyback(self, now: int, keeper: str, amount_in: int, min_out: int, deadline: int) -> int:
        """The swap of a buyback: checks, price guard, observation, USDC into the pair.
        Returns the VVV the pair pays the burner (the caller moves and burns it)."""
        b = self.burner
        require(keeper in b.keepers, "buyback: not keeper")
        require(amount_in > 0, "buyback: zero amount")
        require(amount_in <= b.max_amount_in, "buyback: above per-call cap")
        require(min_out > 0, "buyback: zero min out")
        require(deadline >= now, "buyback: deadline passed")
        require(deadline <= now + MAX_DEADLINE_DELAY, "buyback: deadline too far")
        require(amount_in <= self.usdc_balance(self.burner_holder), "buyback: not enough revenue")
        cumulative, spot = self.pair.current(now)
        twap = b.twap(now, cumulative)
        difference = abs(spot - twap)
        require(difference * BPS <= twap * b.max_deviation_bps, "buyback: spot strays from TWAP")
        require(min_out >= b.floor(amount_in, twap), "buyback: min out below TWAP floor")
        out = self.pair.amount_out(amount_in)
        require(out >= min_out, "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT")
        b.observe(now, cumulative)
        self.pair.swap_usdc_for_vvv(now, amount_in)
        self._move_usdc(self.burner_holder, self.pool, amount_in)
        b.total_spent += amount_in
        b.total_bought += out
        return out
