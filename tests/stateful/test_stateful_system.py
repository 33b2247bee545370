"""One state machine over the whole system, on Anvil, against `venice_sdk.model`.

It is the DIEM machine (itself the staking machine extended: stakes, gifts, unstakes,
finalizes, claims, compounds, treasury releases, DIEM mints, burns, transfers, stakes and
unstakes, rate, schedule, split-curve, stale-fallback and launch-mode changes, time jumps of
a second to three months) with the rest of the system added: subscriptions (every tier, gifts,
bad tiers and periods), USDC revenue, keeper buybacks through the real Uniswap V2 pool (the
model mirrors the pair's reserves and price accumulator and the burner's TWAP guard, so every
refusal is predicted with its reason), VVV sent to the burner and burned by anyone, mint-curve
replacements, and an AirdropDistributor for a small tree deployed at the start (claims to the
wallet and into sVVV, wrong amounts and someone else's leaf, burns before and after the
deadline).

Invariants after every step (on top of the staking and DIEM machines' own, which compare every
balance, stake, cooldown, lock, pending reward and emitted total with the model to the wei):
- conservation: VVV totalSupply == genesis + minted - burned == the sum of the balances of
  every holder (accounts, staking, pool, burner, airdrop, DIEM, subscriptions); the same for
  DIEM (minted - burned) and USDC (minted);
- solvency: staking holds staked + cooling; DIEM holds staked + cooling; the airdrop holds at
  least what is unclaimed until it is burned, then nothing; the burner and the subscriptions
  contract hold no VVV after any step (the burner's VVV is burned in the buyback itself);
- rewards never exceed emissions: minted to stakers and treasury + pending + releasable <=
  emitted; the treasury's minted + releasable == its split + its cut of locked yield;
- burned == genesis + minted - supply == the burner's and the airdrop's burns;
- the pair's reserves and price accumulator, the burner's observations and totals, every
  subscription expiry and the subscriptions' totals equal the model;
- nobody's holdings change but by their own action: for every account that did not act in a
  step, VVV, USDC, stake, cooldown, lock, DIEM, DIEM stake and subscriptions are unchanged
  (a gift's recipient may only gain; the treasury only receives), and pending rewards only
  grow. This is read off the model, which the other invariants hold equal to the chain.

Over 500 lines on purpose: one machine, whose rules and invariants share its model and
chain state; the shared base is tests/support/machines.py.

CI profile: 30 examples x 50 steps. Deep profile (300 x 200): VENICE_DEEP=1, `make deep`
(tests/support/profiles.py).
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import ClassVar

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from tests.support.chain import bind_fast, invalidate, rewound
from tests.support.constants import USDC, VVV
from tests.support.machines import DiemMachine, SystemContext, diem_amounts
from tests.support.profiles import run_machine
from venice_ops.bridge import value_model_of
from venice_ops.deploy.airdrop_tree import AirdropTree
from venice_ops.deploy.suite import deploy_airdrop
from venice_ops.rpc import send
from venice_sdk.model import (
    AirdropModel,
    ModelRevert,
    SystemModel,
    default_rates,
)
from venice_sdk.model.system import STAKING
from venice_sdk.model.value import MAX_TIERS

# Mint-curve tables governance may set: the default, steeper, a short one that ends before
# the DIEM already minted, the flattest allowed, and two the contract refuses.
CURVES = {
    "default": default_rates(),
    "steeper": default_rates(base=180),
    "short": default_rates()[:3],
    "flat": [1, 1],
    "decreasing": [2 * 10**20, 10**20, 3 * 10**20],
    "zero rate": [0, 10**20],
}


# Ways a keeper's buyback can be wrong; each must be refused exactly as the model says.
BUYBACK_FAULTS = {
    "no wait",
    "stale",
    "zero amount",
    "above cap",
    "floor - 1",
    "twap",
    "above pool",
    "deadline passed",
    "deadline too far",
    "not keeper",
}


class SystemMachine(DiemMachine):
    ctx: ClassVar[SystemContext]

    # What each kind of call did over the run (printed with -s): shows the rules reach both
    # their successes and their refusals.
    outcomes: ClassVar[Counter[str]] = Counter()

    def bootstrap(self):
        c = self.ctx
        self.usdc, self.subs = c.usdc.functions, c.subs.functions
        self.burner, self.pair = c.burner.functions, c.pair.functions
        self.airdrop = c.airdrop.functions
        self.burner_address, self.subs_address = c.burner.address, c.subs.address
        self.airdrop_address = c.airdrop.address
        self.tree: AirdropTree = c.tree
        self.usdc_is_token0 = c.usdc_is_token0
        self.actors: set[str] = set()
        self.receivers: set[str] = set()
        self.holdings: dict[str, tuple] = {}
        self.treasury_genesis = self.model.balance(self.treasury.address)
        super().bootstrap()

    # --- who acted -----------------------------------------------------------------------

    def _send(self, model_op, call, sender, touched: tuple[str, ...] = ()):
        self.actors.add(sender.address)
        # A stake for someone else gives them stake: they receive.
        self.receivers.update(a for a in touched if a != sender.address)
        result = super()._send(model_op, call, sender, touched)
        self.outcomes[f"{call.fn_name}: {self.last_revert or 'ok'}"] += 1
        return result

    @rule(sender=st.integers(0, 3), receiver=st.integers(0, 3), amount=diem_amounts)
    def diem_transfer(self, sender, receiver, amount):
        self.receivers.add(self.stakers[receiver].address)
        super().diem_transfer(sender, receiver, amount)

    # --- subscriptions and revenue -------------------------------------------------------

    @rule(
        payer=st.integers(0, 3),
        recipient=st.integers(0, 3),
        tier=st.integers(0, MAX_TIERS),
        periods=st.one_of(st.integers(1, 3), st.sampled_from([0, 36, 37])),
    )
    def subscribe(self, payer, recipient, tier, periods):
        p, r = self.stakers[payer], self.stakers[recipient]
        self.receivers.add(r.address)
        expiry = self._send(
            lambda now: self.model.subscribe(now, p.address, tier, periods, r.address),
            self.subs.subscribe(tier, periods, r.address),
            p,
        )
        if expiry is not None:
            assert self.subs.expiryOf(r.address, tier).call() == expiry

    @rule(amount=st.one_of(st.integers(1, 100), st.integers(1, 200_000)))
    def deposit_revenue(self, amount):
        """Platform revenue sent straight to the burner (minted test USDC)."""
        v = self.model.value
        self._send(
            lambda now: v.mint_usdc(self.burner_address, amount * USDC),
            self.usdc.mint(self.burner_address, amount * USDC),
            self.owner,
        )

    # --- buyback -------------------------------------------------------------------------

    @rule(who=st.integers(0, 4))
    def observe(self, who):
        """`update()`: anyone records a price observation (at most one per window)."""
        sender = self.owner if who == 4 else self.stakers[who]
        self._send(lambda now: self.model.value.update(now), self.burner.update(), sender)

    @rule(
        revenue=st.sampled_from([0, 0, 5_000, 80_000]),
        wait=st.sampled_from([1_800, 2_400, 3_600]),
        fraction=st.sampled_from([1, 10, 50, 100]),
        fault=st.sampled_from([None] * 8 + sorted(BUYBACK_FAULTS)),
    )
    def buyback(self, revenue, wait, fraction, fault):
        """The keeper's round: revenue may arrive, the keeper records an observation and
        waits for a TWAP window, then buys back a fraction of the revenue (capped at the
        per-call limit) with the least min out the guard accepts. A `fault` breaks one thing
        (no wait, a stale TWAP, a min out under the floor or above what the pool pays, the
        deadline, the caller, the amount), and the model says how the contract refuses."""
        v = self.model.value
        if revenue:
            self.deposit_revenue(revenue)
        if fault != "no wait":
            self._send(lambda now: v.update(now), self.burner.update(), self.owner)
            self.warp((86_401 if fault == "stale" else wait) - 1)
        when = self.now + 1  # `_send` mines the buyback at the next second
        amount = v.usdc_balance(self.burner_address) * fraction // 100
        amount = 0 if fault == "zero amount" else min(amount, v.burner.max_amount_in)
        if fault == "above cap":
            amount = v.burner.max_amount_in + 1
        try:
            twap_out, floor = v.quote(when, amount)
        except ModelRevert:  # no usable TWAP: the buyback must be refused the same way
            twap_out, floor = 0, 1
        minimum = {
            "floor - 1": max(floor - 1, 0),
            "twap": twap_out,
            "above pool": v.pair.reserve_vvv,
        }.get(fault, floor)
        deadline = when + {"deadline passed": -1, "deadline too far": 3_601}.get(fault, 600)
        sender = self.stakers[0] if fault == "not keeper" else self.owner
        supply = self.vvv.totalSupply().call()
        burned = self._send(
            lambda now: self.model.buyback(now, sender.address, amount, minimum, deadline),
            self.burner.buyback(amount, minimum, deadline),
            sender,
        )
        if burned is not None:
            assert burned >= minimum > 0
            assert supply - self.vvv.totalSupply().call() == burned
            assert self.vvv.balanceOf(self.burner_address).call() == 0

    @rule(who=st.integers(0, 3), amount=st.one_of(st.integers(1, 10), st.integers(1, 1_000 * VVV)))
    def donate_to_burner(self, who, amount):
        a = self.stakers[who]
        self._send(
            lambda now: self.model.transfer(a.address, self.burner_address, amount),
            self.vvv.transfer(self.burner_address, amount),
            a,
        )

    @rule(who=st.integers(0, 3))
    def burn_donated(self, who):
        self._send(lambda now: self.model.burn_vvv(), self.burner.burnVvv(), self.stakers[who])

    # --- airdrop -------------------------------------------------------------------------

    @rule(
        who=st.integers(0, 3),
        leaf_of=st.sampled_from([None, None, None, 0, 1]),
        wrong_amount=st.sampled_from([False, False, False, True]),
        stake=st.booleans(),
    )
    def airdrop_claim(self, who, leaf_of, wrong_amount, stake):
        """A claim with the caller's own leaf, or another staker's leaf and proof, or a wrong
        amount; to the wallet or straight into sVVV."""
        a = self.stakers[who]
        leaf = a if leaf_of is None else self.stakers[leaf_of]
        amount = self.tree.amount(leaf.address) + (1 if wrong_amount else 0)
        proof = self.tree.proof(leaf.address)
        self._send(
            lambda now: self.model.claim_airdrop(now, a.address, amount, stake),
            self.airdrop.claim(amount, proof, stake),
            a,
            (a.address,) if stake else (),
        )

    @rule(who=st.integers(0, 3))
    def airdrop_burn(self, who):
        burned = self._send(
            lambda now: self.model.burn_unclaimed(now),
            self.airdrop.burnUnclaimed(),
            self.stakers[who],
        )
        if burned is not None:
            assert self.vvv.balanceOf(self.airdrop_address).call() == 0

    @rule(days=st.integers(30, 120))
    def months_pass(self, days):
        """Long stretches, on top of the inherited jumps: cooldowns end, schedules start,
        reports go stale, the airdrop's window closes."""
        self.warp(days * 86_400)

    # --- governance ----------------------------------------------------------------------

    @rule(name=st.sampled_from(sorted(CURVES)))
    def set_mint_curve(self, name):
        rates = CURVES[name]

        def model_op(now):
            assert self.model.curve is not None
            self.model.curve.set_curve(rates)

        self._send(model_op, self.curve.setCurve(rates), self.owner)

    # --- invariants ----------------------------------------------------------------------

    def vvv_holders(self) -> dict[str, str]:
        contracts = (
            self.burner_address,
            self.airdrop_address,
            self.subs_address,
            self.diem_address,
        )
        return super().vvv_holders() | {a: a for a in contracts}

    def usdc_holders(self) -> list[str]:
        people = (self.owner, self.oracle, self.treasury, *self.stakers)
        return [
            *(a.address for a in people),
            self.pool_address,
            self.burner_address,
            self.subs_address,
        ]

    @invariant()
    def value_capture_matches_model(self):
        if not hasattr(self, "model"):
            return
        v = self.model.value
        # USDC: every holder's balance, and nothing outside them.
        supply = self.usdc.totalSupply().call()
        total = 0
        for holder in self.usdc_holders():
            balance = self.usdc.balanceOf(holder).call()
            assert balance == v.usdc_balance(holder), holder
            total += balance
        assert total == supply == v.usdc_minted
        assert v.usdc_balance(self.subs_address) == 0
        # The pair: reserves, and its accumulator of the price of USDC in VVV.
        r0, r1, last = self.pair.getReserves().call()
        reserves = (r0, r1) if self.usdc_is_token0 else (r1, r0)
        assert reserves == (v.pair.reserve_usdc, v.pair.reserve_vvv)
        cumulative = (
            self.pair.price0CumulativeLast()
            if self.usdc_is_token0
            else self.pair.price1CumulativeLast()
        ).call()
        assert (cumulative, last) == (v.pair.cumulative, v.pair.last)
        assert v.pair.reserve_vvv == self.model.balance(self.pool_address)
        # The burner: its two observations and totals.
        b = v.burner
        assert tuple(self.burner.observations().call()) == (*b.older, *b.newer)
        assert self.burner.totalSpent().call() == b.total_spent
        assert self.burner.totalBought().call() == b.total_bought
        assert self.burner.totalBurned().call() == b.total_burned
        # Subscriptions.
        s = v.subscriptions
        assert self.subs.totalPaid().call() == s.total_paid
        assert self.subs.totalBurnPart().call() == s.total_burn_part
        for a in self.stakers:
            for tier in range(MAX_TIERS):
                assert self.subs.expiryOf(a.address, tier).call() == s.expiry_of(a.address, tier)
            assert self.subs.proUntil(a.address).call() == s.pro_until(a.address)

    @invariant()
    def solvency_and_burns(self):
        if not hasattr(self, "model"):
            return
        m, v, air = self.model, self.model.value, self.model.airdrop
        # Nothing but the airdrop's own claims and burns moves its VVV.
        held = m.balance(self.airdrop_address)
        if air.total_burned == 0:
            assert held >= air.total - air.total_claimed
        else:
            assert held == 0
        assert held == air.total - air.total_claimed - air.total_burned
        for a in self.stakers:
            claimed = self.airdrop.isClaimed(
                a.address, self.tree.amount(a.address), self.tree.proof(a.address)
            ).call()
            assert claimed == (a.address in air.claimed)
        # The subscriptions contract never holds VVV or DIEM; DIEM never holds VVV.
        assert m.balance(self.subs_address) == m.balance(self.diem_address) == 0
        assert m.balance(STAKING) == m.staking.total_staked + m.staking.total_cooling
        # Burned == the fall in supply, all of it through the burner or the airdrop.
        supply = self.vvv.totalSupply().call()
        assert m.genesis + m.minted - supply == m.burned
        assert m.burned == v.burner.total_burned + air.total_burned
        # Emissions: what was minted (claims and the treasury) plus what is owed never
        # exceeds what was emitted; the treasury gets exactly its split and locked cut.
        s = m.staking
        emitted = self.controller.emitted().call()
        pending = sum(s.pending_rewards(a.address, self.now) for a in self.stakers)
        releasable = s.treasury_releasable(self.now)
        assert m.minted == m.claimed + s.treasury_minted
        assert m.minted + pending + releasable <= emitted
        # The stakers' part pays the stakers and the treasury's cut of locked yield.
        cut = s.locked_cut_accrued + s._accrued_view(self.now)[1]
        assert m.claimed + pending + cut <= self.controller.stakerEmitted().call()
        # The treasury never acts: its VVV grows only by what was released to it.
        assert m.balance(self.treasury.address) == self.treasury_genesis + s.treasury_minted

    @invariant()
    def claimed_leaves_stay_claimed(self):
        """Every airdrop leaf seen claimed (on the chain, or by the model) is still claimed
        after every step, read from the chain: the leaves share one bitmap word, so a claim
        that rewrote the word would wipe an earlier neighbour. Leaves nobody can claim stay
        clear."""
        if not hasattr(self, "model"):
            return
        seen: set[str] = self.__dict__.setdefault("claimed_leaves", set())
        seen |= self.model.airdrop.claimed
        stakers = {a.address for a in self.stakers}

        def is_claimed(address: str) -> bool:
            amount, proof = self.tree.amount(address), self.tree.proof(address)
            return bool(self.airdrop.isClaimed(address, amount, proof).call())

        for address, _ in self.tree.entries:
            if address in seen:
                assert is_claimed(address), f"{address}'s claim was lost"
            elif is_claimed(address):
                assert address in stakers, address
                seen.add(address)
        # The rules rarely land two claims before the window closes, so also ask what if
        # every staker still unclaimed claimed now, one after another (undone after): each
        # claim must keep every earlier one in the word. Once per example and again after
        # each new claim.
        rest = [a for a in self.stakers if a.address not in seen]
        probed = self.__dict__.get("probed_claims")
        open_ = self.now + len(rest) <= self.model.airdrop.deadline
        if probed != seen and rest and len(seen) + len(rest) >= 2 and open_:
            self.__dict__["probed_claims"] = set(seen)
            kept = set(seen)
            with rewound():
                for i, a in enumerate(rest):
                    claim = self.airdrop.claim(
                        self.tree.amount(a.address), self.tree.proof(a.address), False
                    )
                    send(claim, a.address, self.now + 1 + i)
                    for address in kept:
                        assert is_claimed(address), f"{a.address}'s claim wiped {address}'s"
                    kept.add(a.address)
            invalidate()

    def _holdings(self, address: str) -> tuple:
        m = self.model
        acct = m.staking.account(address)
        d = m.diem.stake_of(address)
        subs = m.value.subscriptions
        return (
            m.balance(address),
            m.value.usdc_balance(address),
            acct.staked,
            acct.cooling,
            acct.unlock_time,
            acct.locked,
            acct.outstanding_diem,
            m.diem.balance(address),
            d.staked,
            d.cooling,
            d.end,
            *(subs.expiry_of(address, tier) for tier in range(MAX_TIERS)),
            address in m.airdrop.claimed,
        )

    @invariant()
    def nobody_loses_but_by_their_own_action(self):
        if not hasattr(self, "model"):
            return
        people = [*self.stakers, self.oracle, self.treasury]
        now = {a.address: self._holdings(a.address) for a in people}
        pending = {
            a.address: self.model.staking.pending_rewards(a.address, self.now) for a in people
        }
        for address, (pending_before, held_before) in self.holdings.items():
            if address in self.actors:
                continue
            after = now[address]
            assert pending[address] >= pending_before, address
            if address in self.receivers or address == self.treasury.address:
                # A gift or the treasury's income: every holding only grows (a cooldown's
                # unlock time and the claimed flag do not move for a receiver).
                assert all(x >= y for x, y in zip(after, held_before, strict=True)), address
            else:
                assert after == held_before, address
        self.holdings = {a: (pending[a], now[a]) for a in now}
        self.actors, self.receivers = set(), set()


@pytest.fixture
def system_context(diem_context, suite, owner, accounts, config, fund_usdc, chain):
    c = diem_context
    stakers = c.stakers
    model: SystemModel = copy.deepcopy(c.model)
    for a in stakers:
        fund_usdc(a, 1_000_000 * USDC, spender=suite.subscriptions)
    # A small airdrop: a distinct amount per staker (one of them a single wei) and two
    # wallets that never claim, so something is always left to burn.
    entries = [
        (stakers[0].address, 5_000 * VVV),
        (stakers[1].address, 123_456 * VVV + 789),
        (stakers[2].address, 1),
        (stakers[3].address, 40_000 * VVV),
        ("0x" + "11" * 20, 7_000 * VVV),
        ("0x" + "22" * 20, 3 * VVV),
    ]
    tree = AirdropTree(entries)
    airdrop = deploy_airdrop(owner, suite.vvv, suite.staking, tree.root, tree.total, config)
    model.transfer(owner.address, airdrop.address, tree.total)
    model.airdrop = AirdropModel(
        leaves=dict(tree.entries), deadline=airdrop.DEADLINE(), holder=airdrop.address
    )
    # Value capture as deployed, read from the chain.
    pair, burner, subs, usdc = suite.pair, suite.burner, suite.subscriptions, suite.usdc
    usdc_is_token0 = pair.token0() == usdc.address
    holders = [owner, c.oracle, c.treasury, *stakers]
    model.value = value_model_of(suite, owner.address, [a.address for a in holders])
    assert model.value.usdc_supply == model.value.usdc_minted
    assert model.balance(owner.address) == suite.vvv.balanceOf(owner)
    return SystemContext(
        **vars(c)
        | {
            "model": model,
            "usdc": bind_fast(usdc),
            "subs": bind_fast(subs),
            "burner": bind_fast(burner),
            "pair": bind_fast(pair),
            "airdrop": bind_fast(airdrop),
            "tree": tree,
            "usdc_is_token0": usdc_is_token0,
        }
    )


def test_system_machine(system_context):
    run_machine(SystemMachine, system_context, 30, 50)
    for outcome, count in sorted(SystemMachine.outcomes.items()):
        print(f"{count:6d}  {outcome}")
