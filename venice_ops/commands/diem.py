"""A DIEM holder's actions, with the user's mistakes caught before any transaction.

DIEM is minted by locking staked VVV (sVVV) along the mint curve and burned back to release
the lock; staked DIEM is worth $1 of API credit per day. `quote_svvv` / `quote_diem` price a
mint from the contracts themselves (`getDiemAmountOut`, `getSVVVAmountIn`); `mint`,
`mint_exact`, `burn`, `stake`, `unstake` and `finalize` first run their checks, which raise
`UserError` with what was wrong and what to do, then send the transaction and return an
`Outcome`. `read_status` and `status_rows` describe a position and the curve. The `diem`
command is a thin layer over these functions, and the tests call them directly.

About 650 lines on purpose: six actions, each with its checks and their messages (what was
wrong, what to do), and the quotes those messages cite; split, an action's message would live
apart from the check that raises it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ape import chain
from ape.api import AccountAPI
from ape.exceptions import ContractLogicError

from venice_ops.commands.common import (
    Outcome,
    TransactionReverted,
    UserError,
    check_gas,
    cooldown_started,
    format_bps,
    format_duration,
    format_time,
    human,
    send,
)
from venice_ops.deploy.suite import Suite
from venice_sdk.model.diem import MIN_CREDIT_STAKE, daily_credit
from venice_sdk.model.staking import burn_release as released_by_burn
from venice_sdk.units import format_units

BPS = 10_000
UNIT = 10**18
DEFAULT_SLIPPAGE_BPS = 50  # 0.5%
CLOSED, PUNITIVE, OPEN = 0, 1, 2
MODE_NAMES = {CLOSED: "closed", PUNITIVE: "punitive", OPEN: "open"}


################################################################
#                            INPUTS                            #
################################################################


def usd(amount: int) -> str:
    """An 18-decimal USD amount, rounded down to cents: "$12.50"."""
    return f"${format_units(amount, 18, 2)}"


def _percent(part: int, whole: int) -> str:
    pct = Decimal(part * 100) / Decimal(whole)
    return "less than 0.01%" if 0 < pct < Decimal("0.01") else f"{pct:.2f}%"


def _bps_needed(part: int, whole: int) -> int:
    """The smallest slippage (bps) that tolerates a move of `part` on `whole`, rounded up."""
    return -(-part * BPS // whole)


def _price(svvv: int, diem: int) -> str:
    """Average sVVV per DIEM of a mint."""
    return human(svvv * UNIT // diem, 4) if diem else "n/a"


################################################################
#                           THE CURVE                          #
################################################################


@dataclass(frozen=True)
class Curve:
    """The mint curve as the staking contract sees it now."""

    supply: int  # DIEM outstanding: the supply the curve prices at
    end_supply: int  # mints reaching it revert
    mode: int
    multiplier: int  # divisor of credited sVVV in punitive mode

    @property
    def mode_text(self) -> str:
        if self.mode == PUNITIVE:
            return f"punitive (each sVVV locked counts as 1/{self.multiplier:,})"
        if self.mode == CLOSED:
            return "closed (minting is paused by governance)"
        return MODE_NAMES.get(self.mode, str(self.mode))


def _view(method: Any, *args: Any) -> Any:
    """A view call; a revert the checks did not foresee becomes a `UserError` with its reason."""
    try:
        return method(*args)
    except ContractLogicError as exc:
        reason = getattr(exc, "revert_message", None) or str(exc) or type(exc).__name__
        raise UserError(f"the contract refused: {reason}") from None


def read_curve(suite: Suite) -> Curve:
    return Curve(
        supply=int(suite.staking.totalDiemOutstanding()),
        end_supply=int(suite.curve.endSupply()),
        mode=int(suite.curve.launchMode()),
        multiplier=int(suite.curve.punitiveMultiplier()),
    )


def check_open(curve: Curve) -> None:
    if curve.mode == CLOSED:
        raise UserError(
            "minting is closed: the mint curve's launch mode is 'closed', so no DIEM can be "
            "minted now; wait for governance to open it (see `diem status`)"
        )


def max_svvv_in(suite: Suite, curve: Curve) -> int:
    """The most sVVV one mint can lock at the current supply without reaching the curve's end."""
    room = int(suite.curve.costTo(curve.end_supply)) - int(suite.curve.costTo(curve.supply))
    if room <= 0:
        return 0
    # quoteMint needs C(supply) + credited < C(end), credited = sVVV (// multiplier if punitive).
    return room * curve.multiplier - 1 if curve.mode == PUNITIVE else room - 1


def check_end_svvv(suite: Suite, curve: Curve, svvv: int) -> None:
    most = max_svvv_in(suite, curve)
    if svvv > most:
        raise UserError(
            f"past the curve's end: the mint curve ends at {human(curve.end_supply, 4)} DIEM of "
            f"supply and {human(curve.supply, 4)} DIEM is outstanding; locking {human(svvv)} "
            f"sVVV would pass its end. Lock at most {human(most, 4)} sVVV"
        )


def check_end_diem(curve: Curve, diem: int) -> None:
    if curve.supply + diem >= curve.end_supply:
        most = max(0, curve.end_supply - curve.supply - 1)
        raise UserError(
            f"past the curve's end: the mint curve ends at {human(curve.end_supply, 4)} DIEM of "
            f"supply and {human(curve.supply, 4)} DIEM is outstanding; minting {human(diem)} "
            f"DIEM would reach it. Mint at most {human(most, 4)} DIEM"
        )


################################################################
#                            QUOTES                            #
################################################################


@dataclass(frozen=True)
class Quote:
    """A mint priced by the contracts now: `svvv` locked for `diem` minted."""

    svvv: int
    diem: int
    exact_diem: bool  # True: DIEM was the input (mintExactDiem), else sVVV (mintDiem)
    curve: Curve

    @property
    def message(self) -> str:
        if self.exact_diem:
            head = f"Minting exactly {human(self.diem)} DIEM locks {human(self.svvv)} sVVV now"
        else:
            head = f"Locking {human(self.svvv)} sVVV mints {human(self.diem)} DIEM now"
        text = (
            f"{head} (on average {_price(self.svvv, self.diem)} sVVV per DIEM, at a DIEM "
            f"supply of {human(self.curve.supply, 4)})"
        )
        if self.curve.mode == PUNITIVE:
            text += (
                f". Launch mode is punitive: each sVVV locked counts as "
                f"1/{self.curve.multiplier:,} until governance opens minting"
            )
        return text


def quote_svvv(suite: Suite, svvv: int) -> Quote:
    """DIEM minted for locking `svvv` wei of sVVV (`getDiemAmountOut`)."""
    curve = read_curve(suite)
    check_open(curve)
    check_end_svvv(suite, curve, svvv)
    diem = int(_view(suite.staking.getDiemAmountOut, svvv))
    if diem == 0:
        raise UserError(
            f"too little: locking {human(svvv)} sVVV mints no DIEM at the current rate "
            f"({_rate_text(suite, curve)}); lock more sVVV"
        )
    return Quote(svvv=svvv, diem=diem, exact_diem=False, curve=curve)


def quote_diem(suite: Suite, diem: int) -> Quote:
    """sVVV locked to mint exactly `diem` wei of DIEM (`getSVVVAmountIn`)."""
    curve = read_curve(suite)
    check_open(curve)
    check_end_diem(curve, diem)
    svvv = int(_view(suite.staking.getSVVVAmountIn, diem))
    return Quote(svvv=svvv, diem=diem, exact_diem=True, curve=curve)


def _rate_text(suite: Suite, curve: Curve) -> str:
    if curve.supply >= curve.end_supply:
        return "the curve has ended"
    rate = int(suite.curve.rateAt(curve.supply))
    if curve.mode == PUNITIVE:
        return (
            f"{human(rate * curve.multiplier, 4)} sVVV per DIEM in punitive mode "
            f"({human(rate, 4)} x {curve.multiplier:,})"
        )
    return f"{human(rate, 4)} sVVV per DIEM"


################################################################
#                            CHECKS                            #
################################################################


def check_free_svvv(suite: Suite, account: AccountAPI, needed: int) -> None:
    """Enough staked sVVV not already locked behind DIEM to lock `needed`."""
    staked = int(suite.staking.balanceOf(account))
    locked = int(suite.staking.lockedStakes(account)[0])
    free = staked - locked
    if needed <= free:
        return
    if staked == 0:
        raise UserError(
            f"not enough unlocked sVVV: account {account.address} has no VVV staked and this "
            f"mint locks {human(needed)} sVVV; stake VVV first with `ape run staker stake AMOUNT`"
        )
    raise UserError(
        f"not enough unlocked sVVV: you have {human(staked)} sVVV staked, {human(locked)} "
        f"locked behind DIEM, {human(free)} free; this mint locks {human(needed)}. Stake more "
        f"with `ape run staker stake AMOUNT`, or mint with at most {human(free)} sVVV"
    )


def _diem_position(suite: Suite, account: AccountAPI) -> tuple[int, int, int, int]:
    """(wallet balance, staked, cooldown end, cooling) of DIEM."""
    staked, end, cooling = (int(x) for x in suite.diem.stakedInfos(account))
    return int(suite.diem.balanceOf(account)), staked, end, cooling


def _unstake_first(suite: Suite, staked: int, end: int, cooling: int) -> str:
    """What to do to get staked or cooling DIEM back into the wallet."""
    parts = []
    if cooling:
        left = end - int(chain.pending_timestamp)
        if left > 0:
            parts.append(
                f"{human(cooling)} DIEM is cooling down ({format_duration(left)} left, then "
                "`diem finalize`)"
            )
        else:
            parts.append(f"{human(cooling)} DIEM has cooled down: run `diem finalize`")
    if staked:
        duration = format_duration(int(suite.diem.cooldownDuration()))
        parts.append(
            f"{human(staked)} DIEM is staked: unstake first with `diem unstake AMOUNT`, then "
            f"`diem finalize` after the {duration} cooldown"
        )
    return "; ".join(parts)


def check_burn(suite: Suite, account: AccountAPI, amount: int) -> tuple[int, int]:
    """Returns (sVVV locked, DIEM outstanding) of the account before the burn."""
    check_gas(account)
    locked, outstanding = (int(x) for x in suite.staking.lockedStakes(account))
    balance, staked, end, cooling = _diem_position(suite, account)
    held = balance + staked + cooling
    if outstanding == 0:
        if held:
            raise UserError(
                f"this account has no DIEM lock to release: it holds {human(held)} DIEM but "
                "minted none that is outstanding. DIEM bought on the market (or received) "
                "unlocks nothing: only the account that minted DIEM can burn it, against its "
                "own lock"
            )
        raise UserError(
            "nothing to burn: this account has no DIEM outstanding; mint first with "
            "`diem mint AMOUNT`"
        )
    if amount > outstanding:
        extra = ""
        if held > outstanding:
            extra = (
                f"; the other {human(held - outstanding)} DIEM you hold was minted by other "
                "accounts, and DIEM bought on the market unlocks nothing"
            )
        raise UserError(
            f"you can burn at most {human(outstanding)} DIEM: that is what this account minted "
            f"and has outstanding (locking {human(locked)} sVVV), not {human(amount)}{extra}"
        )
    if amount > balance:
        where = _unstake_first(suite, staked, end, cooling)
        if where:
            raise UserError(
                f"only {human(balance)} DIEM is free in your wallet, the burn needs "
                f"{human(amount)}: {where}"
            )
        raise UserError(
            f"only {human(balance)} DIEM is in your wallet, the burn needs {human(amount)}: "
            "DIEM sent away has to come back to be burned"
        )
    return locked, outstanding


def check_stake(suite: Suite, account: AccountAPI, amount: int) -> None:
    check_gas(account)
    balance, _, end, cooling = _diem_position(suite, account)
    if balance == 0:
        note = ""
        if cooling:
            note = f" ({_unstake_first(suite, 0, end, cooling)})"
        raise UserError(f"no DIEM in the wallet to stake{note}; mint some with `diem mint AMOUNT`")
    if amount > balance:
        raise UserError(
            f"you have {human(balance)} DIEM in the wallet, cannot stake {human(amount)}; "
            f"stake at most {human(balance)}"
        )


def check_unstake(suite: Suite, account: AccountAPI, amount: int) -> None:
    check_gas(account)
    staked = int(suite.diem.stakedInfos(account)[0])
    if staked == 0:
        raise UserError(
            f"nothing to unstake: account {account.address} has no DIEM staked; stake with "
            "`diem stake AMOUNT`"
        )
    if amount > staked:
        raise UserError(
            f"you have {human(staked)} DIEM staked, cannot unstake {human(amount)}; "
            f"unstake at most {human(staked)}"
        )


def check_finalize(suite: Suite, account: AccountAPI) -> int:
    """Returns the DIEM that `unstake()` will return to the wallet."""
    check_gas(account)
    _, end, cooling = (int(x) for x in suite.diem.stakedInfos(account))
    if cooling == 0:
        duration = format_duration(int(suite.diem.cooldownDuration()))
        raise UserError(
            "nothing to finalize: no DIEM is cooling down; start with `diem unstake AMOUNT` "
            f"and finalize after the {duration} cooldown"
        )
    now = int(chain.pending_timestamp)
    if now < end:
        raise UserError(
            f"too early: the cooldown has {format_duration(end - now)} left for your "
            f"{human(cooling)} DIEM (it ends {format_time(end)}); run `diem finalize` again then"
        )
    return cooling


################################################################
#                           SLIPPAGE                           #
################################################################


def _moved_out(svvv: int, quoted: int, now: int, bps: int) -> UserError:
    moved = quoted - now
    return UserError(
        f"the quote moved: locking {human(svvv)} sVVV was quoted at {human(quoted)} DIEM and "
        f"now mints {human(now)} DIEM, {human(moved)} DIEM ({_percent(moved, quoted)}) less, "
        f"beyond the {format_bps(bps)} slippage allowed; run again to mint at the new price, "
        f"or allow a larger move with --slippage {format_bps(_bps_needed(moved, quoted))[:-1]} "
        "or more"
    )


def _moved_in(diem: int, quoted: int, now: int, bps: int) -> UserError:
    moved = now - quoted
    return UserError(
        f"the quote moved: minting {human(diem)} DIEM was quoted at {human(quoted)} sVVV and "
        f"now locks {human(now)} sVVV, {human(moved)} sVVV ({_percent(moved, quoted)}) more, "
        f"beyond the {format_bps(bps)} slippage allowed; run again to mint at the new price, "
        f"or allow a larger move with --slippage {format_bps(_bps_needed(moved, quoted))[:-1]} "
        "or more"
    )


def _send_mint(
    method: Any,
    amount: int,
    now: int,
    expected: int,
    slippage_bps: int,
    account: AccountAPI,
    moved: Callable[[int, int, int, int], UserError],
    requote: Any,
) -> Any:
    """Send a mint of ``amount`` bounded by ``expected`` moved by the slippage: the least DIEM
    out for `_moved_out`, the most sVVV in for `_moved_in`. A quote ``now`` already past the
    bound, or a slippage revert (another mint landed first), says how far the quote moved
    (``requote(amount)`` reads it again)."""
    sign = -1 if moved is _moved_out else 1
    bound = expected * (BPS + sign * slippage_bps) // BPS
    if (now - bound) * sign > 0:
        raise moved(amount, expected, now, slippage_bps)
    try:
        return send(method, amount, bound, sender=account)
    except TransactionReverted as exc:
        if "slippage" in str(exc):
            raise moved(amount, expected, int(requote(amount)), slippage_bps) from None
        raise


################################################################
#                           ACTIONS                            #
################################################################


def _minted_message(suite: Suite, account: AccountAPI, svvv: int, diem: int) -> str:
    locked, outstanding = (int(x) for x in suite.staking.lockedStakes(account))
    balance = int(suite.diem.balanceOf(account))
    return (
        f"Locked {human(svvv)} sVVV and minted {human(diem)} DIEM (on average "
        f"{_price(svvv, diem)} sVVV per DIEM); the wallet holds {human(balance, 4)} DIEM and "
        f"{human(locked, 4)} sVVV is locked behind {human(outstanding, 4)} DIEM outstanding. "
        "Stake DIEM for daily credit with `diem stake AMOUNT`"
    )


def mint(
    suite: Suite,
    account: AccountAPI,
    svvv: int,
    slippage_bps: int = DEFAULT_SLIPPAGE_BPS,
    quoted: int | None = None,
) -> Outcome:
    """Lock `svvv` wei of the account's unlocked sVVV and mint DIEM (`mintDiem`).

    `quoted` is the DIEM the user was shown (default: the quote now); the mint reverts if it
    would give less than `quoted * (10000 - slippage_bps) // 10000`.
    """
    check_gas(account)
    now = quote_svvv(suite, svvv).diem
    check_free_svvv(suite, account, svvv)
    expected = now if quoted is None else quoted
    receipt = _send_mint(
        suite.staking.mintDiem, svvv, now, expected, slippage_bps, account, _moved_out,
        suite.staking.getDiemAmountOut,
    )  # fmt: skip
    minted = sum(int(log.diemMinted) for log in receipt.decode_logs(suite.staking.DiemMinted))
    return Outcome(_minted_message(suite, account, svvv, minted), [receipt])


def mint_exact(
    suite: Suite,
    account: AccountAPI,
    diem: int,
    slippage_bps: int = DEFAULT_SLIPPAGE_BPS,
    quoted: int | None = None,
) -> Outcome:
    """Mint exactly `diem` wei of DIEM, locking what the curve asks (`mintExactDiem`).

    `quoted` is the sVVV cost the user was shown (default: the quote now); the mint reverts if
    it would lock more than `quoted * (10000 + slippage_bps) // 10000`.
    """
    check_gas(account)
    now = quote_diem(suite, diem).svvv
    check_free_svvv(suite, account, now)
    expected = now if quoted is None else quoted
    receipt = _send_mint(
        suite.staking.mintExactDiem, diem, now, expected, slippage_bps, account, _moved_in,
        suite.staking.getSVVVAmountIn,
    )  # fmt: skip
    locked = sum(int(log.sVVVLocked) for log in receipt.decode_logs(suite.staking.DiemMinted))
    return Outcome(_minted_message(suite, account, locked, diem), [receipt])


def burn(suite: Suite, account: AccountAPI, amount: int) -> Outcome:
    """Burn `amount` wei of the account's DIEM against its own lock (`burnDiem`), releasing
    `amount * locked // outstanding` sVVV (all of it when burning everything outstanding)."""
    locked, outstanding = check_burn(suite, account, amount)
    expected = released_by_burn(locked, outstanding, amount)
    receipt = send(suite.staking.burnDiem, amount, sender=account)
    logs = receipt.decode_logs(suite.staking.DiemBurned)
    released = sum(int(log.sVVVReleased) for log in logs) if logs else expected
    if amount == outstanding:
        message = (
            f"Burned {human(amount)} DIEM, all this account had outstanding, and released all "
            f"{human(released)} sVVV locked behind it; nothing is locked now"
        )
    else:
        still_locked, still_out = (int(x) for x in suite.staking.lockedStakes(account))
        message = (
            f"Burned {human(amount)} DIEM and released {human(released)} sVVV; "
            f"{human(still_locked, 4)} sVVV stays locked behind {human(still_out, 4)} DIEM"
        )
    return Outcome(
        message + ". Released sVVV can be unstaked with `staker unstake AMOUNT`", [receipt]
    )


def _credit_text(staked: int) -> str:
    if staked == 0:
        return "$0 per day (no DIEM staked)"
    if staked < MIN_CREDIT_STAKE:
        return (
            f"$0 per day: {human(staked)} DIEM staked is below the 0.1 DIEM minimum, so no "
            "credit can be spent; stake more"
        )
    return f"{usd(staked)} per day"


def stake(suite: Suite, account: AccountAPI, amount: int) -> Outcome:
    """Stake `amount` wei of the account's DIEM (`stake` on DIEM): it earns daily credit."""
    check_stake(suite, account, amount)
    receipt = send(suite.diem.stake, amount, sender=account)
    staked = int(suite.diem.stakedInfos(account)[0])
    return Outcome(
        f"Staked {human(amount)} DIEM; {human(staked, 4)} DIEM is staked now, API credit "
        f"{_credit_text(staked)}",
        [receipt],
    )


def unstake(suite: Suite, account: AccountAPI, amount: int) -> Outcome:
    """Move `amount` wei of staked DIEM into the cooldown (`initiateUnstake` on DIEM)."""
    check_unstake(suite, account, amount)
    already = int(suite.diem.stakedInfos(account)[2])
    receipt = send(suite.diem.initiateUnstake, amount, sender=account)
    staked, end, cooling = (int(x) for x in suite.diem.stakedInfos(account))
    more = (
        f". It no longer counts for credit: {human(staked, 4)} DIEM stays staked, "
        f"API credit {_credit_text(staked)}"
    )
    duration = int(suite.diem.cooldownDuration())
    message = cooldown_started(
        "DIEM", amount, cooling, end, duration, already, "diem finalize", more
    )
    return Outcome(message, [receipt])


def finalize(suite: Suite, account: AccountAPI) -> Outcome:
    """Return the cooled-down DIEM to the wallet (`unstake()` on DIEM)."""
    amount = check_finalize(suite, account)
    receipt = send(suite.diem.unstake, sender=account)
    balance = int(suite.diem.balanceOf(account))
    return Outcome(
        f"Unstaked {human(amount)} DIEM; the wallet holds {human(balance, 4)} DIEM now",
        [receipt],
    )


################################################################
#                            STATUS                            #
################################################################


@dataclass(frozen=True)
class Status:
    """A DIEM position and the mint curve, read at one chain time (`now`)."""

    account: str
    svvv_staked: int
    locked: int  # sVVV locked behind DIEM
    outstanding: int  # DIEM this account minted and has not burned
    diem_balance: int  # free in the wallet
    diem_staked: int
    cooling: int
    cooldown_end: int  # 0 when nothing is cooling
    now: int
    curve: Curve
    rate: int | None  # marginal sVVV (wei) per DIEM at the supply; None past the end

    @property
    def free_svvv(self) -> int:
        return self.svvv_staked - self.locked

    @property
    def cooldown_left(self) -> int:
        return max(0, self.cooldown_end - self.now) if self.cooling else 0

    @property
    def daily_credit(self) -> int:
        """USD (18 decimals) of API credit per day: 1 staked DIEM = $1, none below 0.1 DIEM."""
        return daily_credit(self.diem_staked)

    @property
    def to_the_end(self) -> int:
        return max(0, self.curve.end_supply - self.curve.supply)


def read_status(suite: Suite, address: str) -> Status:
    staking, diem = suite.staking, suite.diem
    locked, outstanding = (int(x) for x in staking.lockedStakes(address))
    staked, end, cooling = (int(x) for x in diem.stakedInfos(address))
    curve = read_curve(suite)
    rate = int(suite.curve.rateAt(curve.supply)) if curve.supply < curve.end_supply else None
    return Status(
        account=str(address),
        svvv_staked=int(staking.balanceOf(address)),
        locked=locked,
        outstanding=outstanding,
        diem_balance=int(diem.balanceOf(address)),
        diem_staked=staked,
        cooling=cooling,
        cooldown_end=end,
        now=int(chain.pending_timestamp),
        curve=curve,
        rate=rate,
    )


def status_rows(status: Status) -> list[tuple[str, str]]:
    """The position and the curve as (label, value) rows, for a table."""
    if not status.cooling:
        cooldown = "nothing"
    elif status.cooldown_left:
        cooldown = (
            f"{human(status.cooling)} DIEM, {format_duration(status.cooldown_left)} left "
            f"(until {format_time(status.cooldown_end)})"
        )
    else:
        cooldown = f"{human(status.cooling)} DIEM, ready: run `diem finalize`"
    curve = status.curve
    if status.rate is None:
        rate = "none: the curve has ended"
    elif curve.mode == PUNITIVE:
        rate = (
            f"{human(status.rate, 4)} sVVV per DIEM ({human(status.rate * curve.multiplier, 4)} "
            "in punitive mode)"
        )
    else:
        rate = f"{human(status.rate, 4)} sVVV per DIEM"
    return [
        ("account", status.account),
        ("sVVV staked", f"{human(status.svvv_staked, 4)} sVVV"),
        ("locked behind DIEM", f"{human(status.locked, 4)} sVVV"),
        ("free to lock", f"{human(status.free_svvv, 4)} sVVV"),
        ("DIEM outstanding", f"{human(status.outstanding, 4)} DIEM (minted by this account)"),
        ("DIEM in wallet", f"{human(status.diem_balance, 4)} DIEM"),
        ("DIEM staked", f"{human(status.diem_staked, 4)} DIEM"),
        ("cooling down", cooldown),
        ("daily credit", _credit_text(status.diem_staked)),
        ("DIEM supply", f"{human(curve.supply, 4)} DIEM"),
        ("marginal rate", rate),
        (
            "curve end",
            f"at {human(curve.end_supply, 4)} DIEM of supply, "
            f"{human(status.to_the_end, 4)} DIEM away",
        ),
        ("launch mode", curve.mode_text),
    ]
