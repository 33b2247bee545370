"""Mirror of `contracts/DIEM.vy`: balances and staking on the token itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from venice_sdk.model.emissions import require

__all__ = [
    "DIEM",
    "MIN_CREDIT_STAKE",
    "STAKING",
    "DiemModel",
    "DiemStake",
    "daily_credit",
]

DIEM = "diem"  # the DIEM contract's own balance holds staked and cooling DIEM
STAKING = "staking"  # the staking contract (sVVV), which holds the staked VVV
# No credit can be spent below this much staked DIEM (PROTOCOL.md: at least 0.1 DIEM).
MIN_CREDIT_STAKE = 10**17


def daily_credit(staked: int) -> int:
    """USD (18 decimals) of API credit per day: 1 staked DIEM = $1, none below 0.1 DIEM."""
    return staked if staked >= MIN_CREDIT_STAKE else 0


@dataclass
class DiemStake:
    staked: int = 0
    cooling: int = 0
    end: int = 0


@dataclass
class DiemModel:
    cooldown: int
    balances: dict[str, int] = field(default_factory=dict)
    stakes: dict[str, DiemStake] = field(default_factory=dict)
    total_supply: int = 0
    total_cooling: int = 0
    minted: int = 0
    burned: int = 0

    def balance(self, holder: str) -> int:
        return self.balances.get(holder, 0)

    def stake_of(self, holder: str) -> DiemStake:
        return self.stakes.setdefault(holder, DiemStake())

    @property
    def total_staked(self) -> int:
        return self.balance(DIEM) - self.total_cooling

    def _move(self, sender: str, receiver: str, amount: int) -> None:
        require(self.balance(sender) >= amount, "erc20: transfer amount exceeds balance")
        self.balances[sender] = self.balance(sender) - amount
        self.balances[receiver] = self.balance(receiver) + amount

    def transfer(self, sender: str, receiver: str, amount: int) -> None:
        require(receiver != DIEM, "DIEM: use stake()")
        require(receiver != STAKING, "DIEM: use burnDiem()")
        self._move(sender, receiver, amount)

    def mint(self, receiver: str, amount: int) -> None:
        self.balances[receiver] = self.balance(receiver) + amount
        self.total_supply += amount
        self.minted += amount

    def check_burn(self, holder: str, amount: int) -> None:
        require(self.balance(holder) >= amount, "erc20: burn amount exceeds balance")

    def burn(self, holder: str, amount: int) -> None:
        self.check_burn(holder, amount)
        self.balances[holder] = self.balance(holder) - amount
        self.total_supply -= amount
        self.burned += amount

    def stake(self, now: int, holder: str, amount: int) -> None:
        require(amount > 0, "DIEM: zero amount")
        self._move(holder, DIEM, amount)
        self.stake_of(holder).staked += amount

    def initiate_unstake(self, now: int, holder: str, amount: int) -> None:
        require(amount > 0, "DIEM: zero amount")
        st = self.stake_of(holder)
        require(amount <= st.staked, "DIEM: amount exceeds stake")
        st.staked -= amount
        st.cooling += amount
        st.end = now + self.cooldown
        self.total_cooling += amount

    def unstake(self, now: int, holder: str) -> int:
        st = self.stake_of(holder)
        require(st.cooling > 0, "DIEM: nothing to unstake")
        require(now >= st.end, "DIEM: cooldown active")
        amount, st.cooling = st.cooling, 0
        self.total_cooling -= amount
        self._move(DIEM, holder, amount)
        return amount

    def staked_infos(self, holder: str) -> tuple[int, int, int]:
        st = self.stake_of(holder)
        return st.staked, (st.end if st.cooling else 0), st.cooling
