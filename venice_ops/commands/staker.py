"""A staker's actions on sVVV, with the user's mistakes caught before any transaction.

Each action (`stake`, `unstake`, `finalize`, `claim`, `compound`) first runs its `check_*`,
which raises `UserError` with what was wrong and what to do; then it sends the transaction
and returns an `Outcome` whose message says what happened. `read_status` and `status_rows`
describe a position. The `staker` command is a thin layer over these functions, and the tests
call them directly on a deployed suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ape import chain
from ape.api import AccountAPI

from venice_ops.commands.common import (
    ZERO_ADDRESS,
    Outcome,
    UserError,
    check_gas,
    cooldown_started,
    format_duration,
    format_time,
    human,
    parse_address,
    send,
)
from venice_ops.deploy.suite import Suite

SECONDS_PER_YEAR = 31_536_000


@dataclass(frozen=True)
class Status:
    """A staker's position, read at one chain time (`now`, the next block's timestamp)."""

    account: str
    vvv_balance: int
    staked: int
    locked: int
    pending_rewards: int
    cooling: int
    unlock_time: int  # 0 when nothing is cooling down
    now: int
    is_pro: bool
    pro_threshold: int
    apr: Decimal | None  # percent; None when nothing is staked

    @property
    def unlocked(self) -> int:
        return self.staked - self.locked

    @property
    def cooldown_left(self) -> int:
        return max(0, self.unlock_time - self.now) if self.cooling else 0


################################################################
#                            READS                             #
################################################################


def format_apr(apr: Decimal | None) -> str:
    return "n/a (nothing staked)" if apr is None else f"{apr:,.2f}%"


def apr(suite: Suite) -> Decimal | None:
    """Stakers' annual emission over the total staked, in percent (None if nothing is staked).

    The rate is the staking contract's cached stakers' rate (wei/s) as of its last accrual.
    """
    total = int(suite.staking.totalStaked())
    if total == 0:
        return None
    rate = int(suite.staking.rewardRate())
    return Decimal(rate * SECONDS_PER_YEAR * 100) / Decimal(total)


def read_status(suite: Suite, address: str) -> Status:
    """The position as the next block will see it (on an idle dev node the latest block can be
    minutes old, and its view would show no rewards accrued since)."""
    staking = suite.staking
    at = {"block_id": "pending"}
    cooling, unlock = staking.cooldowns(address, **at)
    return Status(
        account=str(address),
        vvv_balance=int(suite.vvv.balanceOf(address, **at)),
        staked=int(staking.balanceOf(address, **at)),
        locked=int(staking.lockedStakes(address, **at)[0]),
        pending_rewards=int(staking.pendingRewards(address, **at)),
        cooling=int(cooling),
        unlock_time=int(unlock),
        now=int(chain.pending_timestamp),
        is_pro=bool(staking.isPro(address, **at)),
        pro_threshold=int(staking.proThreshold(**at)),
        apr=apr(suite),
    )


def status_rows(status: Status) -> list[tuple[str, str]]:
    """The position as (label, value) rows, for a table."""
    if not status.cooling:
        cooldown = "nothing"
    elif status.cooldown_left:
        cooldown = (
            f"{human(status.cooling)} VVV, {format_duration(status.cooldown_left)} left "
            f"(until {format_time(status.unlock_time)})"
        )
    else:
        cooldown = f"{human(status.cooling)} VVV, ready: run `finalize`"
    if status.is_pro:
        pro = "yes"
    elif status.pro_threshold == 0:
        pro = "no (Pro by staking is switched off)"
    else:
        pro = f"no (stake {human(status.pro_threshold - status.staked)} more VVV)"
    return [
        ("account", status.account),
        ("VVV balance", f"{human(status.vvv_balance, 4)} VVV"),
        ("staked", f"{human(status.staked, 4)} sVVV"),
        ("locked behind DIEM", f"{human(status.locked, 4)} sVVV"),
        ("unstakable", f"{human(status.unlocked, 4)} sVVV"),
        ("pending rewards", f"{human(status.pending_rewards, 4)} VVV"),
        ("cooling down", cooldown),
        ("Pro", pro),
        ("APR (all stakers)", format_apr(status.apr)),
    ]


################################################################
#                            CHECKS                            #
################################################################


def check_stake(suite: Suite, account: AccountAPI, amount: int, recipient: str) -> None:
    check_gas(account)
    if recipient == ZERO_ADDRESS:
        raise UserError("the zero address cannot hold tokens; give a real address")
    balance = int(suite.vvv.balanceOf(account))
    if balance < amount:
        raise UserError(
            f"not enough VVV: you have {human(balance)} VVV, need {human(amount)} "
            f"(account {account.address}); get more VVV or stake at most {human(balance)}"
        )


def check_unstake(suite: Suite, account: AccountAPI, amount: int) -> None:
    check_gas(account)
    staked = int(suite.staking.balanceOf(account))
    locked = int(suite.staking.lockedStakes(account)[0])
    if staked == 0:
        raise UserError(f"nothing to unstake: account {account.address} has no stake")
    if amount > staked:
        raise UserError(
            f"you have {human(staked)} sVVV staked, cannot unstake {human(amount)}; "
            f"unstake at most {human(staked - locked)}"
        )
    if amount > staked - locked:
        raise UserError(
            f"{human(locked)} of your {human(staked)} sVVV is locked behind DIEM: you can "
            f"unstake at most {human(staked - locked)} now (burn DIEM to unlock more)"
        )


def check_finalize(suite: Suite, account: AccountAPI) -> int:
    """Returns the amount that `finalizeUnstake` will pay."""
    check_gas(account)
    cooling, unlock = (int(x) for x in suite.staking.cooldowns(account))
    if cooling == 0:
        raise UserError(
            "nothing to finalize: no VVV is cooling down; start with `unstake AMOUNT` and "
            "finalize after the cooldown"
        )
    now = int(chain.pending_timestamp)
    if now < unlock:
        raise UserError(
            f"too early: the cooldown has {format_duration(unlock - now)} left for your "
            f"{human(cooling)} VVV (it ends {format_time(unlock)}); run `finalize` again then"
        )
    return cooling


def check_claim(suite: Suite, account: AccountAPI) -> int:
    """Returns the rewards pending now (the transaction may add a few seconds' worth)."""
    check_gas(account)
    pending = int(suite.staking.pendingRewards(account, block_id="pending"))
    if pending == 0 and int(suite.staking.balanceOf(account)) == 0:
        raise UserError(
            f"nothing to claim: account {account.address} has no rewards and no stake "
            "earning any; stake first with `stake AMOUNT`"
        )
    return pending


################################################################
#                           ACTIONS                            #
################################################################


def _claimed(suite: Suite, receipt: Any) -> int:
    return sum(int(log.amount) for log in receipt.decode_logs(suite.staking.RewardsClaimed))


def stake(suite: Suite, account: AccountAPI, amount: int, recipient: str | None = None) -> Outcome:
    """Stake `amount` wei of the account's VVV for `recipient` (default: the account),
    approving exactly `amount` first if the allowance is short."""
    recipient = parse_address(recipient) if recipient else str(account.address)
    check_stake(suite, account, amount, recipient)
    vvv, staking = suite.vvv, suite.staking
    receipts = []
    notes = []
    if int(vvv.allowance(account, staking)) < amount:
        receipts.append(send(vvv.approve, staking, amount, sender=account))
        notes.append(f"approved {human(amount)} VVV to the staking contract")
    receipts.append(send(staking.stake, recipient, amount, sender=account))
    whom = "" if recipient == account.address else f" for {recipient}"
    total = int(staking.balanceOf(recipient))
    pro = " (Pro)" if staking.isPro(recipient) else ""
    notes.append(f"staked {human(amount)} VVV{whom}; the stake is now {human(total, 4)} sVVV{pro}")
    message = "; ".join(notes)
    return Outcome(message[:1].upper() + message[1:], receipts)


def check_restart(suite: Suite, account: AccountAPI, amount: int) -> None:
    """Refuse, before sending, an unstake that would restart a running (or finished)
    cooldown: the contract adds the new amount to what is cooling and restarts the timer for
    all of it, so VVV due soon, or ready now, waits the whole cooldown again."""
    cooling, unlock = (int(x) for x in suite.staking.cooldowns(account))
    if cooling == 0:
        return
    duration = int(suite.staking.cooldownDuration())
    now = int(chain.pending_timestamp)
    if now >= unlock:
        state = "has finished its cooldown (run `finalize` first to withdraw it)"
    else:
        state = (
            f"is cooling down until {format_time(unlock)} ({format_duration(unlock - now)} left)"
        )
    raise UserError(
        f"{human(cooling)} VVV {state}; unstaking {human(amount)} more adds it to that request "
        f"and restarts the timer: all {human(cooling + amount)} VVV would cool down for "
        f"{format_duration(duration)} (until {format_time(now + duration)}). Nothing was sent; "
        "run again with --yes to restart the timer"
    )


def unstake(
    suite: Suite, account: AccountAPI, amount: int, restart_cooldown: bool = False
) -> Outcome:
    """Move `amount` wei of unlocked stake into the cooldown (`initiateUnstake`). With VVV
    already cooling down, refuse (`check_restart`) unless `restart_cooldown`."""
    check_unstake(suite, account, amount)
    if not restart_cooldown:
        check_restart(suite, account, amount)
    staking = suite.staking
    already = int(staking.cooldowns(account)[0])
    receipt = send(staking.initiateUnstake, amount, sender=account)
    cooling, unlock = (int(x) for x in staking.cooldowns(account))
    duration = int(staking.cooldownDuration())
    message = cooldown_started("VVV", amount, cooling, unlock, duration, already, "finalize")
    return Outcome(message, [receipt])


def finalize(suite: Suite, account: AccountAPI) -> Outcome:
    """Withdraw the cooled-down VVV (`finalizeUnstake`)."""
    amount = check_finalize(suite, account)
    receipt = send(suite.staking.finalizeUnstake, sender=account)
    balance = int(suite.vvv.balanceOf(account))
    return Outcome(
        f"Withdrew {human(amount)} VVV; the balance is now {human(balance, 4)} VVV", [receipt]
    )


def _take_rewards(suite: Suite, account: AccountAPI, method: Any, done: str, after: Any) -> Outcome:
    """Send ``method`` (claim or claimAndStake) for the account's rewards; the message says
    what was ``done`` with them and, by ``after()``, the account's new balance."""
    check_claim(suite, account)
    receipt = send(method, sender=account)
    amount = _claimed(suite, receipt)
    return Outcome(f"{done} {human(amount, 4)} VVV of rewards; {after()}", [receipt])


def claim(suite: Suite, account: AccountAPI) -> Outcome:
    """Mint the account's rewards to it (`claim`)."""
    return _take_rewards(
        suite, account, suite.staking.claim, "Claimed",
        lambda: f"the balance is now {human(int(suite.vvv.balanceOf(account)), 4)} VVV",
    )  # fmt: skip


def compound(suite: Suite, account: AccountAPI) -> Outcome:
    """Stake the account's rewards for it in one call (`claimAndStake`)."""
    return _take_rewards(
        suite, account, suite.staking.claimAndStake, "Restaked",
        lambda: f"the stake is now {human(int(suite.staking.balanceOf(account)), 4)} sVVV",
    )  # fmt: skip
