"""Mirror of `contracts/AirdropDistributor.vy`.

A leaf is (account, amount); the model keeps the tree as a mapping, so a claim with a proof
that would not lead to the root is a claim of an (account, amount) the tree does not hold.
The distributor's VVV lives in `SystemModel.balances` under `holder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from venice_sdk.model.emissions import require

__all__ = [
    "AirdropModel",
]


@dataclass
class AirdropModel:
    leaves: dict[str, int]
    deadline: int  # last second claims are accepted
    holder: str
    claimed: set[str] = field(default_factory=set)
    total_claimed: int = 0
    total_burned: int = 0

    @property
    def total(self) -> int:
        return sum(self.leaves.values())

    def check_claim(self, now: int, account: str, amount: int) -> None:
        require(now <= self.deadline, "airdrop: claim window closed")
        require(amount > 0, "airdrop: zero amount")
        require(self.leaves.get(account) == amount, "airdrop: invalid proof")
        require(account not in self.claimed, "airdrop: already claimed")

    def claim(self, now: int, account: str, amount: int) -> None:
        self.check_claim(now, account, amount)
        self.claimed.add(account)
        self.total_claimed += amount

    def check_burn(self, now: int, balance: int) -> None:
        require(now > self.deadline, "airdrop: claim window open")
        require(balance > 0, "airdrop: nothing to burn")
