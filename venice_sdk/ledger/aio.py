"""`AsyncHolds`: a `RedisLedger`'s holds (reserve, settle, release) from an event loop.

The same keys, scripts, checks and answers as the ledger's own calls (`RedisLedger._reserve_calls`,
`reserve_answer`, `settle_answer`, `release_answer`), sent over an `AutoPipeline`, so a hold
taken here is settled or released by either, and a server mixing both sees one ledger. Every
call is idempotent by request id, so each is retried within the pipeline's ``retry_for``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from venice_sdk.ledger import base
from venice_sdk.ledger.base import (
    Hold,
    HoldError,
    LedgerUnavailable,
    Settlement,
    check_request_id,
)
from venice_sdk.ledger.pipeline import AutoPipeline, ReplyError
from venice_sdk.ledger.redis import (
    _HOLDS_LUA,
    _HOLDS_SHA,
    RedisLedger,
    _decoded,
    _text,
    release_answer,
    reserve_answer,
    settle_answer,
)

__all__ = ["AsyncHolds"]


def _ok(reply: Any) -> Any:
    if isinstance(reply, ReplyError):
        raise LedgerUnavailable(f"redis refused a hold command: {reply}")
    return reply


class AsyncHolds:
    """Holds on ``ledger``'s Redis over ``pipe`` (made with `AutoPipeline.like`)."""

    def __init__(self, ledger: RedisLedger, pipe: AutoPipeline) -> None:
        self.ledger = ledger
        self.pipe = pipe
        pipe.register(_HOLDS_LUA)

    async def reserve(
        self, account: str, max_cost: int, limit: int, request_id: str, *, period: int | None = None
    ) -> Hold:
        """`CreditLedger.reserve`: its claim and its hold go out in one batch."""
        now, ask = self.ledger._ask(account, max_cost, limit, request_id, period)
        calls = self.ledger._reserve_calls(now, ask)

        async def run() -> Hold:
            _, owner, reply = [_ok(r) for r in await self.pipe.batch(*calls)]
            hold = reserve_answer(ask, _decoded(reply))
            if _text(owner) != ask[1]:
                # The id was another account's: the hold just taken (if any) goes back.
                if hold.allowed:
                    await self._release(ask[1], ask[0])
                raise base._reused(ask[0])
            return hold

        return await self.pipe.retrying("reserving", run)

    async def settle(self, hold: Hold, actual_cost: int) -> Settlement:
        """`CreditLedger.settle` of a `Hold` this ledger gave (raises `HoldError`)."""
        done, _ = await self.settle_with(hold, actual_cost)
        if isinstance(done, HoldError):
            raise done
        return done

    async def settle_with(
        self,
        hold: Hold,
        actual_cost: int,
        follow: Callable[[str], tuple[Any, ...]] | None = None,
    ) -> tuple[Settlement | HoldError, Any]:
        """`settle`, and in the same batch after it the command ``follow(key)`` builds from
        the key of the hold's record (a usage record guarded on this settle: one round trip
        for both). Returns the settlement, or the `HoldError` the settle raised, and the
        command's reply (None without ``follow``). Both are sent again if the connection fails
        (``follow`` too must be idempotent); raises `LedgerUnavailable` if Redis stays away."""
        base._check_amount("actual_cost", actual_cost)
        rid = check_request_id(hold.request_id)
        args = self.ledger._hold_args(float(self.ledger.clock()), hold.account, "settle", rid,
                                      actual_cost)  # fmt: skip
        calls = [("EVALSHA", _HOLDS_SHA, 2, *args)]
        if follow is not None:
            calls.append(follow(args[0]))

        async def run() -> tuple[Settlement | HoldError, Any]:
            reply, *followed = await self.pipe.batch(*calls)
            after = followed[0] if followed else None
            try:
                return settle_answer(rid, hold.account, _decoded(_ok(reply))), after
            except HoldError as exc:
                return exc, after

        return await self.pipe.retrying("settle of a hold", run)

    async def release(self, hold: Hold) -> Hold:
        """`CreditLedger.release` of a `Hold` (raises `HoldError`)."""
        return await self._release(hold.account, check_request_id(hold.request_id))

    async def _release(self, account: str, rid: str) -> Hold:
        return release_answer(rid, account, await self._script(account, "release", rid))

    async def _script(self, account: str, op: str, rid: str, *extra: Any) -> list[Any]:
        args = self.ledger._hold_args(float(self.ledger.clock()), account, op, rid, *extra)
        call = ("EVALSHA", _HOLDS_SHA, 2, *args)

        async def run() -> list[Any]:
            return _decoded(_ok((await self.pipe.batch(call))[0]))

        return await self.pipe.retrying(f"{op} of a hold", run)
