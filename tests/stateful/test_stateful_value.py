"""A state machine over value capture on Anvil with the real Uniswap V2: subscriptions (own and
gifts, every tier), revenue sent straight to the burner, keeper buybacks, VVV donated to the
burner and burned by anyone, time passing. A Python model keeps the USDC ledger, the expiries
and the burned total; after every step:

- USDC is conserved: payers' spend == treasury's gain + burner's balance + USDC swapped into
  the pool, and the burn part of every payment reached the burner (treasury + buyback + spent
  == paid);
- VVV burned by the burner == the fall in `totalSupply`, and the burner never holds VVV after
  a buyback or a burn;
- each account's per-tier expiry and `proUntil` match the model.

CI profile: 10 examples x 30 steps; deep profile (VENICE_DEEP=1): 300 x 200.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.support.chain import bind_fast, invalidate
from tests.support.constants import BPS, PERIOD, USDC, VVV
from tests.support.profiles import machine_settings
from venice_ops.rpc import Reverted, mine, send


class ValueMachine(RuleBasedStateMachine):
    ctx: ClassVar[dict] = {}

    @initialize()
    def setup(self):
        c = self.ctx
        self.chain = c["chain"]
        self.snapshot = self.chain.snapshot()
        invalidate()  # the fixtures changed the chain through ape
        self.subs, self.burner = c["subs"].functions, c["burner"].functions
        self.usdc, self.vvv = c["usdc"].functions, c["vvv"].functions
        self.router = c["router"].functions
        self.subs_address, self.burner_address = c["subs"].address, c["burner"].address
        self.usdc_address, self.vvv_address = c["usdc"].address, c["vvv"].address
        self.pair = c["pair"]
        self.keeper, self.treasury, self.owner = c["keeper"], c["treasury"], c["owner"]
        self.payers = c["payers"]
        self.tiers = [tuple(self.subs.tiers(i).call()) for i in range(4)]
        self.now = self.chain.blocks.head.timestamp
        # The model.
        self.paid = 0  # by subscribers
        self.burn_part = 0
        self.deposited = 0  # revenue sent straight to the burner
        self.spent = 0  # USDC the burner swapped
        self.burned = 0
        self.expiry: dict[tuple[str, int], int] = {}
        self.supply0 = self.vvv.totalSupply().call()
        self.treasury0 = self.usdc.balanceOf(self.treasury).call()
        self.burner0 = self.usdc.balanceOf(self.burner_address).call()
        self.pool0 = self.usdc.balanceOf(self.pair).call()

    def teardown(self):
        if hasattr(self, "snapshot"):
            self.chain.restore(self.snapshot)
            invalidate()

    def _tick(self, seconds: int = 1) -> int:
        self.now += seconds
        return self.now

    # --- rules ---------------------------------------------------------------------------

    @rule(
        payer=st.integers(0, 3),
        recipient=st.integers(0, 3),
        tier=st.integers(0, 3),
        periods=st.integers(0, 40),
    )
    def subscribe(self, payer, recipient, tier, periods):
        who, to = self.payers[payer], self.payers[recipient]
        price, burn = self.tiers[tier]
        call = self.subs.subscribe(tier, periods, to)
        if price == 0 or not 1 <= periods <= 36:
            with pytest.raises(Reverted):
                send(call, who, self._tick())
            return
        receipt = send(call, who, self._tick())
        start = max(self.expiry.get((to, tier), 0), receipt.timestamp)
        self.expiry[(to, tier)] = start + periods * PERIOD
        self.paid += price * periods
        self.burn_part += burn * periods

    @rule(amount=st.integers(1, 50_000))
    def deposit_revenue(self, amount):
        send(self.usdc.mint(self.burner_address, amount * USDC), self.owner, self._tick())
        self.deposited += amount * USDC

    @rule(vvv=st.integers(1, 1_000))
    def donate_vvv(self, vvv):
        send(self.vvv.transfer(self.burner_address, vvv * VVV), self.owner, self._tick())
        send(self.burner.burnVvv(), self.payers[0], self._tick())
        self.burned += vvv * VVV

    @rule(seconds=st.sampled_from([60, 1_801, 3_600, 86_400, 40 * 86_400]))
    def wait(self, seconds):
        mine(self._tick(seconds))

    @precondition(lambda self: hasattr(self, "now"))
    @rule(fraction=st.integers(1, 100), slippage=st.integers(50, 500))
    def buyback(self, fraction, slippage):
        revenue = self.usdc.balanceOf(self.burner_address).call()
        amount = min(revenue * fraction // 100, self.burner.maxAmountIn().call())
        send(self.burner.update(), self.keeper, self._tick())
        when = self._tick()
        if amount == 0:
            with pytest.raises(Reverted, match="buyback: zero amount"):
                send(self.burner.buyback(0, 1, when + 600), self.keeper, when)
            return
        try:
            twap_out, floor = self.burner.quote(amount).call()
        except Exception:
            return  # no usable TWAP yet: the keeper waits
        min_out = max(floor, -(-twap_out * (BPS - slippage) // BPS))
        quoted = self.router.getAmountsOut(amount, [self.usdc_address, self.vvv_address]).call()
        call = self.burner.buyback(amount, min_out, when + 600)
        supply = self.vvv.totalSupply().call()
        try:
            send(call, self.keeper, when)
        except Reverted as exc:
            # The guards, read against the block it ran in (its TWAP is a second newer
            # than the quote's): a refused buyback changes nothing (the invariants check).
            assert exc.reason in (
                "buyback: zero amount",
                "buyback: min out below TWAP floor",
                "buyback: spot strays from TWAP",
                "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT",
            ), exc.reason
            if exc.reason == "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT":
                assert quoted[1] < min_out
            return
        assert supply - self.vvv.totalSupply().call() == quoted[1] >= min_out
        self.spent += amount
        self.burned += quoted[1]

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def usdc_is_conserved(self):
        if not hasattr(self, "now"):
            return
        treasury_gain = self.usdc.balanceOf(self.treasury).call() - self.treasury0
        burner_gain = self.usdc.balanceOf(self.burner_address).call() - self.burner0
        pool_gain = self.usdc.balanceOf(self.pair).call() - self.pool0
        assert self.subs.totalPaid().call() == self.paid
        assert self.subs.totalBurnPart().call() == self.burn_part
        assert self.burner.totalSpent().call() == self.spent
        assert treasury_gain == self.paid - self.burn_part
        assert burner_gain == self.burn_part + self.deposited - self.spent
        assert pool_gain == self.spent
        assert treasury_gain + burner_gain + pool_gain == self.paid + self.deposited
        assert self.usdc.balanceOf(self.subs_address).call() == 0

    @invariant()
    def burned_equals_the_fall_in_supply(self):
        if not hasattr(self, "now"):
            return
        assert self.burner.totalBurned().call() == self.burned
        assert self.supply0 - self.vvv.totalSupply().call() == self.burned
        assert self.vvv.balanceOf(self.burner_address).call() == 0

    @invariant()
    def expiries_match(self):
        if not hasattr(self, "now"):
            return
        for account in self.payers:
            until = 0
            for tier in range(4):
                expected = self.expiry.get((account, tier), 0)
                assert self.subs.expiryOf(account, tier).call() == expected
                until = max(until, expected)
            assert self.subs.proUntil(account).call() == until


def test_value_machine(chain, suite, owner, treasury, accounts, fund_usdc):
    payers = [accounts[i] for i in (3, 4, 5, 7)]
    for account in payers:
        fund_usdc(account, 10_000_000 * USDC, spender=suite.subscriptions)
    # Nobody stakes during the machine: emissions mint nothing, so supply moves only by burns.
    ValueMachine.ctx = {
        "chain": chain,
        "subs": bind_fast(suite.subscriptions),
        "burner": bind_fast(suite.burner),
        "usdc": bind_fast(suite.usdc),
        "vvv": bind_fast(suite.vvv),
        "router": bind_fast(suite.router),
        "pair": suite.pair.address,
        "keeper": owner.address,
        "treasury": treasury.address,
        "owner": owner.address,
        "payers": [a.address for a in payers],
    }
    run = ValueMachine.TestCase
    run.settings = machine_settings(10, 30)
    run().runTest()
