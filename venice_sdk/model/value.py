"""Mirrors of value capture: the USDC ledger, the Uniswap V2 VVV/USDC pair, `BuybackBurner.vy`,
`Subscriptions.vy` and `AirdropDistributor.vy`.

The pair follows UniswapV2Pair and UniswapV2Library (0.3% fee, UQ112x112 cumulative prices,
a 32-bit clock that wraps, a uint256 cumulative that wraps); the burner follows its two-slot
observation ring, TWAP guard and rounded-up floor line by line. VVV itself lives in
`SystemModel`; these hold USDC and the bookkeeping of each contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from venice_sdk.model.emissions import BPS, require

Q112 = 2**112
MASK_32 = 2**32 - 1
MASK_64 = 2**64 - 1
MASK_256 = 2**256 - 1
PERIOD = 30 * 86_400
MAX_PERIODS = 36
MAX_TIERS = 4
MAX_DEADLINE_DELAY = 3_600


@dataclass
class TokenLedger:
    """Balances of a plain ERC-20 (the revenue token, USDC)."""

    balances: dict[str, int] = field(default_factory=dict)
    total_supply: int = 0

    def balance(self, holder: str) -> int:
        return self.balances.get(holder, 0)

    def mint(self, receiver: str, amount: int) -> None:
        self.balances[receiver] = self.balance(receiver) + amount
        self.total_supply += amount

    def move(self, sender: str, receiver: str, amount: int) -> None:
        require(self.balance(sender) >= amount, "erc20: transfer amount exceeds balance")
        self.balances[sender] = self.balance(sender) - amount
        self.balances[receiver] = self.balance(receiver) + amount


def amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut: 0.3% fee, rounded down."""
    require(amount_in > 0, "UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT")
    require(reserve_in > 0 and reserve_out > 0, "UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


@dataclass
class PairModel:
    """The VVV/USDC pair: reserves and the cumulative price of USDC in VVV (UQ112x112)."""

    reserve_usdc: int
    reserve_vvv: int
    cumulative: int  # price of one USDC base unit in VVV wei, integrated over time
    last: int  # blockTimestampLast, 32 bits

    def spot(self) -> int:
        return (self.reserve_vvv << 112) // self.reserve_usdc

    def _update(self, now: int, reserve_usdc: int, reserve_vvv: int) -> None:
        elapsed = ((now & MASK_32) - self.last) & MASK_32
        if elapsed > 0 and self.reserve_usdc and self.reserve_vvv:
            self.cumulative = (self.cumulative + self.spot() * elapsed) & MASK_256
        self.reserve_usdc, self.reserve_vvv, self.last = reserve_usdc, reserve_vvv, now & MASK_32

    def current(self, now: int) -> tuple[int, int]:
        """(cumulative as of now, spot): what the burner's `_current` reads."""
        require(self.reserve_usdc > 0 and self.reserve_vvv > 0, "buyback: empty pool")
        spot = self.spot()
        elapsed = ((now & MASK_32) - self.last) & MASK_32
        return (self.cumulative + spot * elapsed) & MASK_256, spot

    def vvv_for_usdc(self, usdc_in: int) -> int:
        return amount_out(usdc_in, self.reserve_usdc, self.reserve_vvv)

    def usdc_for_vvv(self, vvv_in: int) -> int:
        return amount_out(vvv_in, self.reserve_vvv, self.reserve_usdc)

    def swap_usdc_for_vvv(self, now: int, usdc_in: int) -> int:
        out = self.vvv_for_usdc(usdc_in)
        self._update(now, self.reserve_usdc + usdc_in, self.reserve_vvv - out)
        return out

    def swap_vvv_for_usdc(self, now: int, vvv_in: int) -> int:
        out = self.usdc_for_vvv(vvv_in)
        self._update(now, self.reserve_usdc - out, self.reserve_vvv + vvv_in)
        return out


@dataclass
class BurnerModel:
    """`BuybackBurner.vy`: the observation ring, the guard and the totals."""

    max_amount_in: int
    max_deviation_bps: int
    max_slippage_bps: int
    min_twap_window: int
    max_twap_age: int
    older: tuple[int, int]  # (time, cumulative)
    newer: tuple[int, int]
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
        return ((cumulative - base) & MASK_256) // elapsed

    def floor(self, amount_in: int, twap: int) -> int:
        numerator = amount_in * twap * (BPS - self.max_slippage_bps)
        denominator = Q112 * BPS
        return (numerator + denominator - 1) // denominator

    def observe(self, now: int, cumulative: int) -> bool:
        if now - self.newer[0] < self.min_twap_window:
            return False
        self.older, self.newer = self.newer, (now, cumulative)
        return True

    def quote(self, now: int, pair: PairModel, amount_in: int) -> tuple[int, int]:
        """(VVV at the TWAP, the least min-out a buyback of `amount_in` accepts)."""
        cumulative, _ = pair.current(now)
        twap = self.twap(now, cumulative)
        return amount_in * twap // Q112, self.floor(amount_in, twap)

    def check(
        self, now: int, pair: PairModel, balance: int, amount_in: int, min_out: int, deadline: int
    ) -> tuple[int, int]:
        """The buyback's checks in the contract's order; returns (cumulative, twap)."""
        require(amount_in > 0, "buyback: zero amount")
        require(amount_in <= self.max_amount_in, "buyback: above per-call cap")
        require(min_out > 0, "buyback: zero min out")
        require(deadline >= now, "buyback: deadline passed")
        require(deadline <= now + MAX_DEADLINE_DELAY, "buyback: deadline too far")
        require(amount_in <= balance, "buyback: not enough revenue")
        cumulative, spot = pair.current(now)
        twap = self.twap(now, cumulative)
        difference = abs(spot - twap)
        require(difference * BPS <= twap * self.max_deviation_bps, "buyback: spot strays from TWAP")
        require(min_out >= self.floor(amount_in, twap), "buyback: min out below TWAP floor")
        bought = pair.vvv_for_usdc(amount_in)
        require(bought >= min_out, "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT")
        return cumulative, twap


@dataclass
class SubscriptionsModel:
    """`Subscriptions.vy`: tiers (price, burn part), per-tier expiries, totals."""

    tiers: list[tuple[int, int]]
    expiries: dict[tuple[str, int], int] = field(default_factory=dict)
    total_paid: int = 0
    total_burn_part: int = 0

    def expiry_of(self, account: str, tier: int) -> int:
        return self.expiries.get((account, tier), 0)

    def pro_until(self, account: str) -> int:
        return max((self.expiry_of(account, t) for t in range(len(self.tiers))), default=0)

    def quote(self, tier: int, periods: int) -> tuple[int, int]:
        """(cost, burn part) of `periods` of `tier`, reverting as the contract does."""
        require(tier < MAX_TIERS, "subs: unknown tier")
        require(0 < periods <= MAX_PERIODS, "subs: periods out of range")
        price, burn = self.tiers[tier] if tier < len(self.tiers) else (0, 0)
        require(price > 0, "subs: tier not offered")
        return price * periods, burn * periods

    def subscribe(self, now: int, recipient: str, tier: int, periods: int) -> int:
        """Records the payment and returns the new expiry (the caller moves the USDC)."""
        cost, burn = self.quote(tier, periods)
        expiry = max(self.expiry_of(recipient, tier), now) + periods * PERIOD
        require(expiry <= MASK_64, "subs: expiry too far")
        self.expiries[(recipient, tier)] = expiry
        self.total_paid += cost
        self.total_burn_part += burn
        return expiry

    def active(self, now: int) -> int:
        """Accounts with any tier running at `now`."""
        return len({account for (account, _), end in self.expiries.items() if end > now})


@dataclass
class AirdropModel:
    """`AirdropDistributor.vy`: allocations, claimed leaves, the deadline and the final burn."""

    allocations: dict[str, int]
    deadline: int
    claimed: set[str] = field(default_factory=set)
    total_claimed: int = 0
    burned: int = 0

    def check_claim(self, now: int, account: str) -> int:
        require(now <= self.deadline, "airdrop: claim window closed")
        require(account not in self.claimed, "airdrop: already claimed")
        amount = self.allocations.get(account, 0)
        require(amount > 0, "airdrop: invalid proof")
        return amount

    def claim(self, now: int, account: str) -> int:
        amount = self.check_claim(now, account)
        self.claimed.add(account)
        self.total_claimed += amount
        return amount
