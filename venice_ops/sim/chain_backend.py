"""The `chain` backend: the deployed contracts on Anvil, every agent action a real transaction.

Transactions go through plain web3 from Anvil-impersonated agent wallets (`venice_ops.rpc`),
each mined in its own block at the timestamp the engine gives, so the model backend can replay
the run second for second. Reads are made at the last mined block. Funding the agents and
opening the airdrop (setup) are transactions too, counted apart (`setup_transactions`): like
the model backend, `transactions` counts the run's actions only.

The `revm` backend (`venice_ops.sim.revm_backend`) is this class with its four ways to the
node (`_send`, `_call`, `_call_all`, `_mine`) and its view of the suite (`_view`) replaced by
an in-process EVM holding the same state.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ape.api import AccountAPI

from venice_ops.bridge import Roles, system_model, value_model_of
from venice_ops.deploy.airdrop_tree import AirdropTree
from venice_ops.deploy.config import DeployConfig
from venice_ops.deploy.suite import Suite, deploy_airdrop
from venice_ops.rpc import Reverted, bind, call_all, impersonate, mine, send, web3
from venice_ops.sim.model_backend import DEADLINE_DELAY, ActionFailed, ModelBackend
from venice_sdk.model.airdrop import AirdropModel
from venice_sdk.model.curve import OPEN
from venice_sdk.model.value import (
    get_amount_out,
)

MAX = 2**256 - 1


class ChainBackend:
    name = "chain"

    def __init__(self, suite: Suite, config: DeployConfig, deployer: AccountAPI):
        """`deployer`, the account that deployed the suite, funds the agents: VVV from its
        genesis share, test USDC it may mint."""
        self.suite, self.config, self.deployer = suite, config, deployer
        self.vvv, self.staking = bind(suite.vvv), bind(suite.staking)
        self.controller = bind(suite.controller)
        self.diem, self.curve = bind(suite.diem), bind(suite.curve)
        self.usdc, self.router = bind(suite.usdc), bind(suite.router)
        self.burner, self.subs = bind(suite.burner), bind(suite.subscriptions)
        self.pair = bind(suite.pair)
        self.airdrop: Any = None
        self.tree: AirdropTree | None = None
        self.owner = suite.roles["owner"]
        self.keeper = suite.roles.get("keeper", self.owner)
        self.roles = Roles(
            deployer=str(deployer.address),
            treasury=suite.roles["treasury"],
            oracle=suite.roles["oracle"],
            pair=str(suite.pair.address),
            burner=str(suite.burner.address),
            subscriptions=str(suite.subscriptions.address),
            airdrop="",
            diem=str(suite.diem.address),
        )
        self.usdc_is_token0 = self.pair.functions.token0().call() == self.usdc.address
        head = web3().eth.get_block("latest")
        self.clock, self.block = int(head["timestamp"]), int(head["number"])
        self.transactions = 0
        self.setup_transactions = 0
        self.airdrop_burned = 0

    # --- the clock -----------------------------------------------------------------------

    def warp(self, timestamp: int) -> None:
        self.clock = max(self.clock, timestamp - 1)

    def mark(self, timestamp: int) -> None:
        self.clock = max(self.clock + 1, timestamp)
        self._mine()
        self.block += 1

    def _mine(self) -> None:
        mine(self.clock)

    def _send(self, fn: Any, sender: str) -> Any:
        self.clock += 1
        self.transactions += 1
        try:
            receipt = send(fn, sender, self.clock)
        except Reverted as exc:
            self.block += 1
            raise ActionFailed(exc.reason) from None
        self.block = receipt.block_number
        return receipt

    def _call(self, fn: Any) -> Any:
        return fn.call(block_identifier=self.block)

    def _call_all(self, fns: list[Any]) -> list[Any]:
        return call_all(fns)

    def _view(self) -> Suite:
        """The suite as `value_model_of` reads it."""
        return self.suite

    def _event(self, receipt: Any, contract: Any, name: str) -> Any:
        for log in receipt.logs:
            if log["address"] == contract.address:
                try:
                    return getattr(contract.events, name)().process_log(log)["args"]
                except Exception:  # another event of the same contract
                    continue
        raise RuntimeError(f"no {name} event in the receipt")

    # --- setup (before day 0) ------------------------------------------------------------

    def add_agent(self, agent: str, vvv: int, usdc: int, kind: str) -> None:
        """Fund an agent and give it the approvals its behaviour needs (setup transactions)."""
        actions = self.transactions
        impersonate(agent)
        if vvv:
            self._send(self.vvv.functions.transfer(agent, vvv), self.roles.deployer)
        if usdc:
            self._send(self.usdc.functions.mint(agent, usdc), self.roles.deployer)
        if kind == "arbitrageur":  # trades the pool both ways
            self._send(self.vvv.functions.approve(self.router.address, MAX), agent)
            self._send(self.usdc.functions.approve(self.router.address, MAX), agent)
        elif kind in ("staker", "diem_minter"):
            self._send(self.vvv.functions.approve(self.staking.address, MAX), agent)
            self._send(self.vvv.functions.approve(self.router.address, MAX), agent)
        else:
            self._send(self.usdc.functions.approve(self.subs.address, MAX), agent)
        self.setup_transactions += self.transactions - actions
        self.transactions = actions

    def open_airdrop(self, allocations: dict[str, int], deadline_delay: int) -> int:
        """Deploy and fund the airdrop for `allocations`; returns its deadline."""
        self.tree = AirdropTree(list(allocations.items()))
        config = replace(self.config, airdrop_window=deadline_delay)
        tree, suite = self.tree, self.suite
        contract = deploy_airdrop(
            self.deployer, suite.vvv, suite.staking, tree.root, tree.total, config
        )
        self.airdrop = bind(contract)
        self.roles.airdrop = str(contract.address)
        head = web3().eth.get_block("latest")
        self.clock, self.block = max(self.clock, int(head["timestamp"])), int(head["number"])
        return int(contract.DEADLINE())

    # --- staking -------------------------------------------------------------------------

    def stake(self, agent: str, amount: int) -> None:
        self._send(self.staking.functions.stake(agent, amount), agent)

    def initiate_unstake(self, agent: str, amount: int) -> None:
        self._send(self.staking.functions.initiateUnstake(amount), agent)

    def finalize_unstake(self, agent: str) -> int:
        receipt = self._send(self.staking.functions.finalizeUnstake(), agent)
        return int(self._event(receipt, self.staking, "UnstakeFinalized")["amount"])

    def claim(self, agent: str) -> int:
        receipt = self._send(self.staking.functions.claim(), agent)
        return int(self._event(receipt, self.staking, "RewardsClaimed")["amount"])

    def claim_and_stake(self, agent: str) -> int:
        receipt = self._send(self.staking.functions.claimAndStake(), agent)
        return int(self._event(receipt, self.staking, "RewardsClaimed")["amount"])

    def release_treasury(self) -> int:
        receipt = self._send(self.staking.functions.releaseTreasury(), self.keeper)
        return int(self._event(receipt, self.staking, "TreasuryReleased")["amount"])

    # --- DIEM ----------------------------------------------------------------------------

    def mint_diem(self, agent: str, svvv: int, min_out: int) -> int:
        receipt = self._send(self.staking.functions.mintDiem(svvv, min_out), agent)
        return int(self._event(receipt, self.staking, "DiemMinted")["diemMinted"])

    def burn_diem(self, agent: str, amount: int) -> int:
        receipt = self._send(self.staking.functions.burnDiem(amount), agent)
        return int(self._event(receipt, self.staking, "DiemBurned")["sVVVReleased"])

    def diem_stake(self, agent: str, amount: int) -> None:
        self._send(self.diem.functions.stake(amount), agent)

    def diem_transfer(self, sender: str, receiver: str, amount: int) -> None:
        self._send(self.diem.functions.transfer(receiver, amount), sender)

    # --- tokens and the pool -------------------------------------------------------------

    def usdc_transfer(self, sender: str, receiver: str, amount: int) -> None:
        self._send(self.usdc.functions.transfer(receiver, amount), sender)

    def sell_vvv(self, agent: str, amount: int, min_out: int) -> int:
        return self._swap(agent, amount, min_out, vvv_in=True)

    def buy_vvv(self, agent: str, usdc: int, min_out: int) -> int:
        return self._swap(agent, usdc, min_out, vvv_in=False)

    def _swap(self, agent: str, amount: int, min_out: int, vvv_in: bool) -> int:
        """A router swap of `amount` (VVV for USDC, or USDC for VVV); returns what came out."""
        tokens = [self.vvv.address, self.usdc.address]
        path = tokens if vvv_in else tokens[::-1]
        balance = self.usdc_balance if vvv_in else self.vvv_balance
        before = balance(agent)
        deadline = self.clock + 1 + DEADLINE_DELAY
        fn = self.router.functions.swapExactTokensForTokens(amount, min_out, path, agent, deadline)
        self._send(fn, agent)
        return balance(agent) - before

    # --- value capture -------------------------------------------------------------------

    def subscribe(self, payer: str, tier: int, periods: int, recipient: str) -> int:
        self._send(self.subs.functions.subscribe(tier, periods, recipient), payer)
        return int(self._call(self.subs.functions.expiryOf(recipient, tier)))

    def deposit_revenue(self, amount: int) -> None:
        self._send(self.usdc.functions.mint(self.burner.address, amount), self.roles.deployer)

    def keeper_update(self) -> bool:
        receipt = self._send(self.burner.functions.update(), self.keeper)
        return bool(receipt.logs)

    def buyback(self, amount_in: int, min_out: int) -> int:
        deadline = self.clock + 1 + DEADLINE_DELAY
        receipt = self._send(
            self.burner.functions.buyback(amount_in, min_out, deadline), self.keeper
        )
        return int(self._event(receipt, self.burner, "BuybackExecuted")["vvvBurned"])

    def airdrop_claim(self, agent: str, amount: int, stake: bool) -> None:
        assert self.tree is not None
        proof = self.tree.proof(agent)
        self._send(self.airdrop.functions.claim(amount, proof, stake), agent)

    def airdrop_burn(self) -> int:
        receipt = self._send(self.airdrop.functions.burnUnclaimed(), self.keeper)
        amount = int(self._event(receipt, self.airdrop, "UnclaimedBurned")["amount"])
        self.airdrop_burned += amount
        return amount

    # --- governance and the oracle -------------------------------------------------------

    def report_utilization(self, bps: int) -> None:
        self._send(self.controller.functions.reportUtilization(bps), self.roles.oracle)

    def set_annual_rate(self, annual: int) -> None:
        self._send(self.controller.functions.setAnnualRate(annual), self.roles.deployer)

    def set_split_curve(self, curve: list[tuple[int, int]]) -> None:
        self._send(self.controller.functions.setSplitCurve(curve), self.roles.deployer)

    def set_mint_curve(self, rates: list[int]) -> None:
        self._send(self.curve.functions.setCurve(rates), self.roles.deployer)

    def set_launch_mode(self, mode: int) -> None:
        multiplier = self._call(self.curve.functions.punitiveMultiplier())
        self._send(self.curve.functions.setLaunchMode(mode, multiplier), self.roles.deployer)

    def set_tier(self, tier: int, price: int, burn: int) -> None:
        self._send(self.subs.functions.setTier(tier, price, burn), self.roles.deployer)

    # --- reads (at the last block) -------------------------------------------------------

    def vvv_balance(self, holder: str) -> int:
        return int(self._call(self.vvv.functions.balanceOf(holder)))

    def usdc_balance(self, holder: str) -> int:
        return int(self._call(self.usdc.functions.balanceOf(holder)))

    def diem_balance(self, holder: str) -> int:
        return int(self._call(self.diem.functions.balanceOf(holder)))

    def stake_of(self, agent: str) -> tuple[int, int, int]:
        staked = self._call(self.staking.functions.balanceOf(agent))
        locked, _ = self._call(self.staking.functions.lockedStakes(agent))
        cooling, _ = self._call(self.staking.functions.cooldowns(agent))
        return int(staked), int(locked), int(cooling)

    def pending(self, agent: str) -> int:
        return int(self._call(self.staking.functions.pendingRewards(agent)))

    def quote_mint(self, svvv: int) -> int:
        try:
            return int(self._call(self.staking.functions.getDiemAmountOut(svvv)))
        except Exception:  # the curve refuses (closed, past its end): nothing to mint
            return 0

    def launch_open(self) -> bool:
        return int(self._call(self.curve.functions.launchMode())) == OPEN

    def _reserves(self) -> tuple[int, int]:
        """(USDC, VVV) in the pool."""
        r0, r1, _ = self._call(self.pair.functions.getReserves())
        return (int(r0), int(r1)) if self.usdc_is_token0 else (int(r1), int(r0))

    def pool_usdc_for_vvv(self, vvv: int) -> int:
        usdc, pool_vvv = self._reserves()
        return get_amount_out(vvv, pool_vvv, usdc)

    def pool_vvv_for_usdc(self, usdc: int) -> int:
        pool_usdc, vvv = self._reserves()
        return get_amount_out(usdc, pool_usdc, vvv)

    def buyback_floor(self, amount_in: int) -> int | None:
        """The model's guard on the pair and burner as they stand, at the next second."""
        return value_model_of(self._view(), self.keeper, []).guard(self.clock + 1, amount_in)

    def metrics(self) -> dict[str, int]:
        """The day's aggregate state, read in one batch at the last block."""
        c, s, d = self.controller.functions, self.staking.functions, self.diem.functions
        v, u, r = self.vvv.functions, self.usdc.functions, self.roles
        airdrop = [v.balanceOf(r.airdrop)] if r.airdrop else []
        values = self._call_all(
            [
                v.totalSupply(),
                c.emitted(),
                s.totalStaked(),
                s.totalLocked(),
                s.totalCoolingDown(),
                c.currentAnnualRate(),
                c.currentStakerBps(),
                d.totalSupply(),
                d.totalStaked(),
                s.totalDiemOutstanding(),
                v.balanceOf(r.treasury),
                u.balanceOf(r.treasury),
                self.pair.functions.getReserves(),
                u.balanceOf(r.burner),
                self.burner.functions.totalBurned(),
                self.subs.functions.totalPaid(),
                *airdrop,
            ]
        )
        (
            supply,
            emitted,
            staked,
            locked,
            cooling,
            annual,
            staker_bps,
            diem_supply,
            diem_staked,
            outstanding,
            treasury_vvv,
            treasury_usdc,
            reserves,
            burner_usdc,
            burned,
            paid,
        ) = values[:16]
        pool_usdc, pool_vvv = reserves[:2] if self.usdc_is_token0 else reserves[1::-1]
        return {
            "supply": supply,
            "burned": burned + self.airdrop_burned,
            "emitted": emitted,
            "staked": staked,
            "locked": locked,
            "cooling": cooling,
            "annual_rate": annual,
            "staker_bps": staker_bps,
            "diem_supply": diem_supply,
            "diem_staked": diem_staked,
            "mint_rate": int(self._call(self.curve.functions.rateAt(outstanding))),
            "treasury_vvv": treasury_vvv,
            "treasury_usdc": treasury_usdc,
            "pool_vvv": pool_vvv,
            "pool_usdc": pool_usdc,
            "burner_usdc": burner_usdc,
            "buyback_burned": burned,
            "subs_paid": paid,
            "airdrop_vvv": values[16] if airdrop else 0,
        }

    def supply_reads(self, agents: list[str]) -> dict[str, int]:
        """As `ModelBackend.supply_reads`, in one batch at the last block."""
        s = self.staking.functions
        values = self._call_all(
            [
                s.treasuryReleasable(),
                self.controller.functions.stakerEmitted(),
                *(s.pendingRewards(a) for a in agents),
            ]
        )
        return {
            "pending_rewards": sum(values[2:]),
            "treasury_releasable": values[0],
            "staker_emitted": values[1],
        }

    def account_states(self, agents: list[str]) -> dict[str, tuple[int, ...]]:
        """Everything each agent holds (as `ModelBackend.account_state`), in one batch."""
        s, d = self.staking.functions, self.diem.functions
        calls = []
        for a in agents:
            calls += [
                self.vvv.functions.balanceOf(a),
                self.usdc.functions.balanceOf(a),
                d.balanceOf(a),
                s.balanceOf(a),
                s.lockedStakes(a),
                s.cooldowns(a),
                s.pendingRewards(a),
                d.stakedInfos(a),
            ]
        values = self._call_all(calls)
        states: dict[str, tuple[int, ...]] = {}
        for i, a in enumerate(agents):
            vvv, usdc, diem, staked, lock, cooldown, pending, infos = values[8 * i : 8 * i + 8]
            states[a] = (
                vvv,
                usdc,
                diem,
                staked,
                lock[0],
                lock[1],
                cooldown[0],
                pending,
                infos[0],
                infos[2],
            )
        return states

    # --- the model of this deployment ----------------------------------------------------

    def model(self, holders: list[str]) -> ModelBackend:
        """A model backend in exactly this chain's state (after setup, before day 0), for a
        run side by side. `holders` are every address holding VVV."""
        cfg = self.config
        system = system_model(
            cfg,
            now=int(self._call(self.controller.functions.lastCheckpoint())),
            genesis={h: self.vvv_balance(h) for h in holders},
            treasury=self.roles.treasury,
            annual_rate=int(self._call(self.controller.functions.annualRate())),
            launch_mode=int(self._call(self.curve.functions.launchMode())),
        )
        assert system.total_supply == int(self._call(self.vvv.functions.totalSupply())), (
            "every VVV holder must be listed"
        )
        system.staking.last_update = int(self._call(self.staking.functions.lastAccrual()))
        system.value = value_model_of(self._view(), self.keeper, holders)
        if self.airdrop is not None and self.tree is not None:
            deadline = int(self._call(self.airdrop.functions.DEADLINE()))
            system.airdrop = AirdropModel(dict(self.tree.entries), deadline, self.roles.airdrop)
        return ModelBackend(system, self.roles, self.keeper, self.clock)
