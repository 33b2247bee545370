"""The simulator's day loop, the same for both backends.

Each day at 00:00 UTC + 1 s: governance events, the oracle's utilization report, the keeper's
TWAP observation, airdrop claims, then the agents due that day decide in turn (one second per
transaction). Two hours in: revenue reaches the burner and, on buyback days, the keeper buys
VVV and burns it; on release days the treasury's share is minted. The day closes at 23:59:59
with a row of metrics. Every decision reads the backend, never a private copy, so the chain
backend's agents see the chain.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from venice_ops.deploy.config import DeployConfig
from venice_ops.sim import market as mkt
from venice_ops.sim import metrics
from venice_ops.sim.agents import USDC, VVV, Agent, agent_address, population, units
from venice_ops.sim.backend import Backend
from venice_ops.sim.model_backend import ActionFailed, ModelBackend
from venice_ops.sim.scenario import Scenario, ScenarioError
from venice_sdk.model.curve import MODES, default_rates
from venice_sdk.model.diem import daily_credit
from venice_sdk.model.emissions import BPS
from venice_sdk.model.value import PERIOD

DAY = 86_400
BUYBACK_OFFSET = 7_200  # the keeper buys two hours into the day: a TWAP window after its update
DEFAULT_START = dt.date(2025, 1, 27)


@dataclass
class Offer:
    seller: str
    amount: int  # DIEM wei


@dataclass(frozen=True)
class RefusedEvent:
    """A governance event the contracts (or the model) refused: when, which, why."""

    day: int
    date: str
    index: int  # in the scenario's `events`
    action: str  # annual_rate, split_curve, mint_curve, launch_mode, tiers
    reason: str

    def __str__(self) -> str:
        return f"day {self.day} ({self.date}) events.{self.index} {self.action}: {self.reason}"


@dataclass
class Run:
    scenario: Scenario
    backend: Backend
    agents: list[Agent]
    day0: int  # unix time of day 0, 00:00 UTC
    rows: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)  # per day, when recorded
    failures: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    others: str = ""  # the airdrop leaf no agent claims
    refused_events: list[RefusedEvent] = field(default_factory=list)
    arbitrageur: str = ""  # the outside trader of a market scenario

    @property
    def holders(self) -> list[str]:
        r = self.backend.roles
        fixed = [r.deployer, r.treasury, r.oracle, r.pair, r.burner, r.subscriptions]
        extra = [r.airdrop] if r.airdrop else []
        owner = getattr(self.backend, "owner", None)
        keeper = getattr(self.backend, "keeper", None)
        named = [a for a in (owner, keeper, self.arbitrageur) if a]
        return list(dict.fromkeys([*fixed, *extra, *named, *(a.address for a in self.agents)]))


def start_of_day(timestamp: int) -> int:
    return timestamp - timestamp % DAY


class Engine:
    def __init__(
        self,
        scenario: Scenario,
        backend: Backend,
        config: DeployConfig,
        record_accounts: bool = False,
    ):
        self.s, self.b, self.config = scenario, backend, config
        self.record_accounts = record_accounts
        self.book: list[Offer] = []
        self.buckets: dict[int, list[Agent]] = {}
        diem = scenario.market.diem_price  # USD per DIEM, or "market" (set each day)
        self.price_units = units(diem, 6) if diem != "market" else 0  # USDC per whole DIEM
        self.subscriptions: dict[str, int] = {}  # agent -> latest expiry of any tier
        self.revenue_today = 0
        self.apr_bps = 0  # yesterday's closing staking APR, what the agents see
        self.refusal = ""  # the reason of the last refused action
        self.market: mkt.MarketPath | None = None  # the market's daily price, when it has one
        self.follow = 1.0  # revenue and API demand today against day 0's, by the price
        self.spend = units(scenario.treasury_spend, 6)  # USDC a day, for the runway
        self.addresses: list[str] = []  # the stakers', for their pending rewards

    # --- setup ---------------------------------------------------------------------------

    def setup(self, fund: bool = True) -> Run:
        """Fund the agents, open the airdrop; returns the run, positioned before day 0.

        `fund=False` only builds the population, for a backend already in the funded state
        (a model made from a chain that was set up)."""
        s, b = self.s, self.b
        agents = population(s)
        vvv_needed = sum(a.wealth for a in agents if a.kind in ("staker", "diem_minter"))
        drop = {a.address: a.airdrop for a in agents if a.airdrop}
        others = agent_address(s.seed, 10**9)
        if s.airdrop and s.airdrop.others:
            drop[others] = units(s.airdrop.others, 18)
        arbitrageur, arb = "", s.market.arbitrage
        if s.market.price is not None:
            arbitrageur = agent_address(s.seed, 10**9 + 1)
            vvv_needed += units(arb.vvv, 18)
        have = b.vvv_balance(b.roles.deployer)
        if fund and vvv_needed + sum(drop.values()) > have:
            raise ScenarioError(
                f"{s.name}: the agents' wealth and the airdrop need "
                f"{Decimal(vvv_needed + sum(drop.values())) / VVV:,.0f} VVV and the deployer "
                f"holds {Decimal(have) / VVV:,.0f}: lower the wealth or the airdrop"
            )
        for a in agents if fund else []:
            holds_vvv = a.kind in ("staker", "diem_minter")
            vvv, usdc = (a.wealth, 0) if holds_vvv else (0, a.wealth)
            b.add_agent(a.address, vvv, usdc, a.kind)
        if fund and s.airdrop and drop:
            b.open_airdrop(drop, s.airdrop.window_days * DAY)
        if arbitrageur:
            if fund:
                b.add_agent(arbitrageur, units(arb.vvv, 18), units(arb.usdc, 6), "arbitrageur")
            m = b.metrics()
            self.market = mkt.price_path(s, mkt.pool_price(m["pool_usdc"], m["pool_vvv"]))
        day0 = start_of_day(b.clock) + DAY
        for a in agents:
            self.buckets.setdefault(a.next_day, []).append(a)
        # who can hold a stake: stakers, minters, and claimers straight into sVVV
        self.addresses = [
            a.address
            for a in agents
            if a.kind in ("staker", "diem_minter") or (a.airdrop and a.group.airdrop_stake)
        ]
        return Run(s, b, agents, day0, others=others, arbitrageur=arbitrageur)

    # --- the loop ------------------------------------------------------------------------

    def run(self, run: Run, on_day: Callable[[int, dict[str, Any]], None] | None = None) -> Run:
        for day in range(self.s.days):
            row = self.step(run, day)
            if on_day is not None:
                on_day(day, row)
        return run

    def step(self, run: Run, day: int) -> dict[str, Any]:
        s, b = self.s, self.b
        t0 = run.day0 + day * DAY
        b.warp(t0 + 1)
        for index, event in enumerate(s.events):
            if s.event_day(event) == day:
                self._governance(run, event, index, day)
        utilization = min(1.0, max(0.0, s.series(s.utilization, day)))
        self._do(run, "report", lambda: b.report_utilization(round(utilization * BPS)))
        self._do(run, "observe", b.keeper_update)
        self._airdrop(run, day)
        if self.market is not None:
            self._arbitrage(run, day, self.market)
        for agent in self.buckets.pop(day, []):
            self._decide(run, agent, day)
        b.warp(t0 + BUYBACK_OFFSET)
        self.revenue_today = units(max(0.0, s.series(s.market.revenue, day) * self.follow), 6)
        deposit = self.revenue_today * round(s.market.buyback_share * BPS) // BPS
        if deposit:
            self._do(run, "revenue", lambda: b.deposit_revenue(deposit))
        if day % s.market.buyback_every == s.market.buyback_every - 1:
            self._buyback(run)
        if day % s.market.release_every == s.market.release_every - 1:
            self._do(run, "release", b.release_treasury)
        b.mark(t0 + DAY - 1)
        row = self._row(run, day, utilization)
        run.rows.append(row)
        if self.record_accounts:
            run.states.append(
                {
                    "metrics": b.metrics(),
                    "accounts": b.account_states([a.address for a in run.agents]),
                }
            )
        return row

    def _do(self, run: Run, kind: str, action: Callable[[], Any]) -> Any:
        """Run one action; its result (True for none) or None when the contracts refuse it."""
        run.actions[kind] += 1
        try:
            result = action()
        except ActionFailed as exc:
            run.failures[f"{kind}: {exc.reason}"] += 1
            self.refusal = exc.reason
            return None
        return True if result is None else result

    # --- governance ----------------------------------------------------------------------

    def _governance(self, run: Run, event: Any, index: int, day: int) -> None:
        b = self.b

        def act(action: str, kind: str, call: Callable[[], Any]) -> None:
            if self._do(run, kind, call) is None:
                date = dt.datetime.fromtimestamp(run.day0 + day * DAY, dt.UTC).date()
                run.refused_events.append(
                    RefusedEvent(day, date.isoformat(), index, action, self.refusal)
                )

        if event.annual_rate is not None:
            annual = units(event.annual_rate, 18)
            act("annual_rate", "set rate", lambda: b.set_annual_rate(annual))
        if event.split_curve is not None:
            curve = [(int(u), int(share)) for u, share in event.split_curve]
            act("split_curve", "set split", lambda: b.set_split_curve(curve))
        if event.mint_curve is not None:
            c = event.mint_curve
            rates = default_rates(
                Decimal(str(c["base"])), Decimal(str(c["power"])), Decimal(str(c["target"]))
            )
            act("mint_curve", "set mint curve", lambda: b.set_mint_curve(rates))
        if event.launch_mode is not None:
            mode = MODES[event.launch_mode]
            act("launch_mode", "launch mode", lambda: b.set_launch_mode(mode))
        if event.tiers is not None:
            for i, (price, burn) in enumerate(event.tiers):
                p, u = units(price, 6), units(burn, 6)
                act(f"tiers.{i}", "set tier", partial(b.set_tier, i, p, u))

    # --- airdrop -------------------------------------------------------------------------

    def _airdrop(self, run: Run, day: int) -> None:
        s, b = self.s, self.b
        if s.airdrop is None:
            return
        for a in run.agents:
            if a.airdrop and a.claim_day == day:
                stake = a.group.airdrop_stake
                self._do(
                    run,
                    "airdrop claim",
                    partial(b.airdrop_claim, a.address, a.airdrop, stake),
                )
        if day == s.airdrop.window_days + 1:
            self._do(run, "airdrop burn", b.airdrop_burn)

    # --- agents --------------------------------------------------------------------------

    def _schedule(self, agent: Agent, day: int) -> None:
        agent.next_day = day
        if day < self.s.days:
            self.buckets.setdefault(day, []).append(agent)

    def _decide(self, run: Run, a: Agent, day: int) -> None:
        handler = {
            "staker": self._staker,
            "diem_minter": self._minter,
            "api_user": self._api_user,
            "subscriber": self._subscriber,
        }[a.kind]
        next_day = handler(run, a, day)
        self._schedule(a, next_day if next_day is not None else day + a.group.every)

    def _stake_wallet(self, run: Run, a: Agent) -> None:
        held = self.b.vvv_balance(a.address)
        if held:
            self._do(run, "stake", lambda: self.b.stake(a.address, held))

    def _compound(self, run: Run, a: Agent) -> None:
        if self.b.pending(a.address) > 0:
            self._do(run, "compound", lambda: self.b.claim_and_stake(a.address))

    def _staker(self, run: Run, a: Agent, day: int) -> int | None:
        b = self.b
        behaviour = a.behaviour
        if a.exited:
            if a.unlock_day >= 0 and day >= a.unlock_day:
                self._do(run, "finalize", lambda: b.finalize_unstake(a.address))
                a.unlock_day = -1
            return None
        if behaviour == "claim_and_sell":
            if b.pending(a.address) > 0:
                claimed = self._do(run, "claim", lambda: b.claim(a.address))
                if claimed:
                    out = b.pool_usdc_for_vvv(claimed)
                    self._do(run, "sell", lambda: b.sell_vvv(a.address, claimed, out))
            held = b.vvv_balance(a.address)
            if not a.started and held:  # the first decision stakes the wealth
                self._do(run, "stake", lambda: b.stake(a.address, held))
            a.started = True
            return None
        if behaviour == "unstake_on_low_apr" and self.apr_bps < round(a.group.apr_floor * BPS):
            staked, locked, _ = b.stake_of(a.address)
            if staked > locked:
                amount = staked - locked
                self._do(run, "unstake", lambda: b.initiate_unstake(a.address, amount))
                a.exited = True
                a.unlock_day = day + self.config.cooldown // DAY + 1
                return a.unlock_day
        self._stake_wallet(run, a)
        if behaviour != "hold":
            self._compound(run, a)
        return None

    def _minter(self, run: Run, a: Agent, day: int) -> int | None:
        b = self.b
        self._stake_wallet(run, a)
        if not a.minted and b.launch_open():
            staked, locked, _ = b.stake_of(a.address)
            svvv = (staked - locked) * round(a.group.lock_fraction * BPS) // BPS
            quote = b.quote_mint(svvv) if svvv else 0
            if quote:
                minted = self._do(run, "mint DIEM", lambda: b.mint_diem(a.address, svvv, quote))
                if minted:
                    a.minted = True
                    if a.behaviour == "stake_diem":
                        self._do(run, "stake DIEM", lambda: b.diem_stake(a.address, minted))
                    else:
                        self.book.append(Offer(a.address, minted))
        else:
            self._compound(run, a)
        return None

    def _api_user(self, run: Run, a: Agent, day: int) -> int | None:
        b = self.b
        if a.behaviour == "subscribe":
            return self._renew(run, a, day, tier=0, periods=1)
        demand = a.demand if self.follow == 1.0 else int(a.demand * self.follow)
        need = demand * 10**12  # DIEM wei staked for that much USD a day
        shortfall, bought = need - a.diem_staked, 0
        while shortfall > 0 and self.book:
            offer = self.book[0]
            affordable = b.usdc_balance(a.address) * VVV // self.price_units
            amount = min(offer.amount, shortfall, affordable)
            if amount == 0:
                break
            cost = (amount * self.price_units + VVV - 1) // VVV  # the buyer rounds up
            sold = self._do(
                run, "DIEM sold", partial(b.diem_transfer, offer.seller, a.address, amount)
            )
            if sold is None:
                self.book.pop(0)
                continue
            self._do(run, "DIEM paid", partial(b.usdc_transfer, a.address, offer.seller, cost))
            offer.amount -= amount
            if offer.amount == 0:
                self.book.pop(0)
            bought += amount
            shortfall -= amount
        if bought and self._do(run, "stake DIEM", lambda: b.diem_stake(a.address, bought)):
            a.diem_staked += bought
        return None

    def _subscriber(self, run: Run, a: Agent, day: int) -> int | None:
        return self._renew(run, a, day, tier=a.tier, periods=a.group.periods)

    def _renew(self, run: Run, a: Agent, day: int, tier: int, periods: int) -> int:
        b = self.b
        expiry = self.subscriptions.get(a.address, 0)
        renew_day = (expiry - run.day0) // DAY - 1  # a day before it runs out
        if day >= renew_day:
            got = self._do(
                run, "subscribe", lambda: b.subscribe(a.address, tier, periods, a.address)
            )
            if got:
                self.subscriptions[a.address] = got
                return max(day + 1, (int(got) - run.day0) // DAY - 1)
            return day + PERIOD // DAY  # could not pay: try again next month
        return renew_day

    # --- the market ----------------------------------------------------------------------

    def _arbitrage(self, run: Run, day: int, market: mkt.MarketPath) -> None:
        """The outside arbitrageur trades the pool toward the day's price (`market.py`); DIEM,
        revenue and API demand follow the price when the scenario says so."""
        s, b, trader = self.s, self.b, run.arbitrageur
        target = market.prices[day]
        if s.market.elasticity:
            self.follow = mkt.factor(market, day, s.market.elasticity)
        arb = s.market.arbitrage
        cap = mkt.trade_limit(arb.max_trade, arb.volume_share, market.volumes[day])
        trade = mkt.arbitrage(b, trader, target, cap)
        if trade is not None:
            side, amount, out = trade
            swap = b.buy_vvv if side == "buy" else b.sell_vvv
            self._do(run, f"arbitrage {side}", partial(swap, trader, amount, out))
        if s.market.diem_price == "market":
            self.price_units = mkt.diem_price_units(b.metrics()["mint_rate"], target)

    # --- keeper --------------------------------------------------------------------------

    def _buyback(self, run: Run) -> None:
        b = self.b
        amount = min(b.usdc_balance(b.roles.burner), self.config.buyback_max_amount_in)
        for _ in range(8):  # halve the buy until the pool gives at least the TWAP floor
            if amount == 0:
                return
            floor = b.buyback_floor(amount)
            if floor is None:
                run.failures["buyback: TWAP unusable or spot strays"] += 1
                return
            expected = b.pool_vvv_for_usdc(amount)
            if expected >= floor and expected > 0:
                self._do(run, "buyback", partial(b.buyback, amount, expected))
                return
            amount //= 2

    # --- metrics -------------------------------------------------------------------------

    def _row(self, run: Run, day: int, utilization: float) -> dict[str, Any]:
        m = self.b.metrics()
        now = self.b.clock
        staked, supply = m["staked"], m["supply"]
        staker_annual = m["annual_rate"] * m["staker_bps"] // BPS
        self.apr_bps = staker_annual * BPS // staked if staked else 0
        price = (
            Decimal(m["pool_usdc"]) * VVV / USDC / Decimal(m["pool_vvv"]) if m["pool_vvv"] else 0
        )
        active = sum(1 for end in self.subscriptions.values() if end > now)
        credit = sum(daily_credit(a.diem_staked) for a in run.agents if a.kind == "api_user")
        row: dict[str, Any] = {
            "day": day,
            "date": dt.datetime.fromtimestamp(run.day0 + day * DAY, dt.UTC).date().isoformat(),
            "supply": m["supply"],
            "burned": m["burned"],
            "emitted": m["emitted"],
            "staked": staked,
            "locked": m["locked"],
            "staking_ratio": staked / supply if supply else 0.0,
            "staking_apr": self.apr_bps / BPS,
            "annual_rate": m["annual_rate"],
            "staker_share": m["staker_bps"] / BPS,
            "diem_supply": m["diem_supply"],
            "mint_rate": m["mint_rate"],
            "diem_credit": m["diem_staked"],
            "api_credit": credit,
            "treasury_vvv": m["treasury_vvv"],
            "treasury_usdc": m["treasury_usdc"],
            "utilization": utilization,
            "revenue": self.revenue_today,
            "subscribers": active,
            "buyback_burned": m["buyback_burned"],
            "vvv_price": float(price),
            "market_price": self.market.prices[day] / 10**18 if self.market else 0.0,
            "transactions": self.b.transactions,
        }
        reads = self.b.supply_reads(self.addresses)
        vvv = m["treasury_vvv"]
        in_usdc = self.b.pool_usdc_for_vvv(vvv) if vvv and m["pool_vvv"] else 0
        row.update(metrics.derive(run.rows, day, m, reads, in_usdc, self.spend))
        return row


def simulate(
    scenario: Scenario,
    backend: Backend,
    config: DeployConfig,
    on_day: Callable[[int, dict[str, Any]], None] | None = None,
    record_accounts: bool = False,
) -> Run:
    engine = Engine(scenario, backend, config, record_accounts)
    run = engine.setup()
    return engine.run(run, on_day)


def model_backend(scenario: Scenario, config: DeployConfig) -> ModelBackend:
    start = scenario.start or DEFAULT_START
    day0 = int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp())
    return ModelBackend.fresh(config, day0 - DAY // 2)  # setup happens the evening before
