"""The agent population of a scenario: deterministic addresses, wealth and demand drawn from
the scenario's seed, and the little each agent remembers between decisions."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address

from venice_ops.sim.scenario import TIERS, AgentGroup, Distribution, Scenario

VVV = 10**18
USDC = 10**6


def draw(dist: Distribution, rng: random.Random) -> float:
    if dist.uniform is not None:
        return rng.uniform(*dist.uniform)
    if dist.lognormal is not None:
        return dist.lognormal["median"] * math.exp(dist.lognormal["sigma"] * rng.gauss(0, 1))
    if dist.pareto is not None:
        p = dist.pareto
        return float(min(p["cap"], p["minimum"] * rng.paretovariate(p["alpha"])))
    return float(dist.fixed or 0)


def units(amount: float, decimals: int) -> int:
    """Whole tokens (a float from a draw) to base units, at a micro-token grain."""
    return int(round(amount * 1_000_000) * 10 ** (decimals - 6))


def agent_address(seed: int, index: int) -> str:
    return to_checksum_address(keccak(text=f"venice-sim:{seed}:{index}")[12:])


@dataclass
class Agent:
    index: int
    address: str
    group: AgentGroup
    wealth: int  # VVV wei (stakers, minters) or USDC base units (users, subscribers)
    demand: int  # USD a day, micro-USD (api users)
    airdrop: int  # VVV wei allocated in the airdrop
    claim_day: int
    next_day: int  # the next day the agent decides
    unlock_day: int = -1  # an unstake in cooldown finalizes then
    started: bool = False  # has made its first decision (stakers stake their wealth)
    minted: bool = False
    exited: bool = False
    diem_staked: int = 0  # api users: DIEM bought and staked for credit

    @property
    def kind(self) -> str:
        return self.group.kind

    @property
    def behaviour(self) -> str:
        return self.group.behaviour

    @property
    def tier(self) -> int:
        return TIERS[self.group.tier]


def population(scenario: Scenario) -> list[Agent]:
    rng = random.Random(scenario.seed)
    claim_within = scenario.airdrop.claim_within if scenario.airdrop else 1
    agents: list[Agent] = []
    for group in scenario.agents:
        decimals = 18 if group.kind in ("staker", "diem_minter") else 6
        for _ in range(group.count):
            index = len(agents)
            wealth = units(draw(group.wealth, rng), decimals)
            demand = units(draw(group.demand, rng), 6)
            airdrop = units(draw(group.airdrop, rng), 18) if group.airdrop else 0
            agents.append(
                Agent(
                    index=index,
                    address=agent_address(scenario.seed, index),
                    group=group,
                    wealth=wealth,
                    demand=demand,
                    airdrop=airdrop if scenario.airdrop else 0,
                    claim_day=rng.randrange(claim_within),
                    # Spread decisions over the week so the days are evenly loaded.
                    next_day=group.join_day + rng.randrange(group.every),
                )
            )
    return agents
