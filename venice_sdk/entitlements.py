"""Who is this wallet and what may it use: entitlements read from the contracts, cached.

`EntitlementClient.from_manifest("deployments/31337.json", "http://127.0.0.1:8545")` binds the
deployed `EntitlementsLens`, which returns everything for up to 1,000 wallets in one `eth_call`
at one block. `get(address)` answers from a cache in well under a microsecond while the entry is
fresh (`ttl` seconds); a miss reads the chain. If the node fails (timeout, HTTP error, malformed
JSON), an entry up to `grace` seconds past its TTL is served marked `stale`; past that the
client fails closed with `EntitlementUnavailable` (code "rpc_unavailable"), or, if built with
`fail_open=True`, returns an empty `Entitlement` marked `degraded` so the caller decides.

A hung node costs one timeout, not one per request: each read gets `rpc_timeout` seconds per
attempt (default 0.5) and `rpc_retries` more attempts (default 1; web3's own retries are off),
and after a failure a circuit breaker (`venice_sdk.breaker`) keeps reads off the node for
`breaker_cooloff` seconds (default 2), answering stale-within-grace or failing closed at once;
then one read probes the node and closes the breaker if it answers. `probe()` is the readiness
check: a lens call at the configured block and the node's chain id against the manifest's.

Reads happen at `block_tag` ("latest", "safe", "finalized") or `confirmations` blocks behind the
head, so a shallow reorg never reaches the cache; `poll_events()` drops the entries of wallets
whose stake, lock, DIEM stake or subscription changed, so a change shows within a block.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_output_types
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.providers import JSONBaseProvider
from web3.types import BlockIdentifier, RPCEndpoint

from venice_sdk.addresses import AddressError, parse_address
from venice_sdk.breaker import CircuitBreaker
from venice_sdk.errors import Reason, VeniceError
from venice_sdk.model.diem import daily_credit

__all__ = [
    "MAX_BATCH",
    "WATCHED_CONTRACTS",
    "WEI_PER_MICRO_USD",
    "Entitlement",
    "EntitlementClient",
    "EntitlementError",
    "EntitlementUnavailable",
    "canonical",
    "check_rpc_url",
    "daily_credit_micros",
    "load_abi",
]

WEI_PER_MICRO_USD = 10**12  # USD wei (18 decimals) per micro-USD (1e-6 USD, USDC's unit)
MAX_BATCH = 1_000
#: Most seconds a thread waits for another thread's read of the same wallet (then reads it).
READ_WAIT = 10.0
# Contracts whose events name (as an indexed topic) a wallet whose entitlement changed: stakes,
# unstakes, locks, DIEM stakes and subscriptions.
WATCHED_CONTRACTS = ("StakedVVV", "DIEM", "Subscriptions")


class RpcError(Exception):
    """The node answered a JSON-RPC call with an error, or with no result of the right shape."""


def _lens_call(abi: list[dict[str, Any]]) -> tuple[bytes, list[str]]:
    """The selector of the lens's ``entitlements(address[])`` and its answer's ABI types."""
    (function,) = [f for f in abi if f.get("type") == "function" and f["name"] == "entitlements"]
    return function_abi_to_4byte_selector(function), get_abi_output_types(function)  # type: ignore[arg-type]


class EntitlementError(VeniceError):
    """A request the client refuses; `code` is machine-readable."""

    def __init__(self, code: Reason, message: str):
        super().__init__(message)
        self.code = Reason(code)
        self.message = message


class EntitlementUnavailable(EntitlementError):
    """The chain could not be read and no fresh-enough answer is cached (fail closed)."""


def load_abi(name: str) -> list[dict[str, Any]]:
    """An ABI shipped with the package (`venice_sdk/abi/<name>.json`)."""
    text = resources.files("venice_sdk").joinpath("abi", f"{name}.json").read_text()
    return cast(list[dict[str, Any]], json.loads(text))


def _quantity(value: Any) -> int:
    """A JSON-RPC quantity ("0x1a") as an int (`RpcError` if it is none)."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(f"expected a quantity, got {value!r}"[:300])
    return int(value, 16)


def daily_credit_micros(diem_staked: int) -> int:
    """Today's API credit in micro-USD for `diem_staked` DIEM wei (the model's rule: $1 per
    staked DIEM, none under 0.1 DIEM), rounded down."""
    return daily_credit(diem_staked) // WEI_PER_MICRO_USD


def check_rpc_url(rpc_url: str) -> None:
    """Raise `EntitlementError` (``bad_request``) unless ``rpc_url`` is an http(s) URL with a
    host, which the client reads the node through (``127.0.0.1:8545`` or a ``ws://`` URL failed
    each read with requests' "No connection adapters were found", a 503 on every request)."""
    scheme, host = "", None
    try:  # ('http://[::1' and a port not a number, 'http://host:85x', raise ValueError)
        if isinstance(rpc_url, str):
            parts = urlsplit(rpc_url)
            _ = parts.port
            scheme, host = parts.scheme, parts.hostname
    except ValueError:
        pass
    if scheme not in ("http", "https") or not host:
        raise EntitlementError(
            Reason.BAD_REQUEST,
            f"--rpc must be the node's http(s) URL, like http://127.0.0.1:8545, not {rpc_url!r}",
        )


def canonical(address: str) -> str:
    """The checksummed address (`venice_sdk.addresses.parse_address`: a mixed-case address
    with a wrong checksum is refused), or EntitlementError("malformed_address")."""
    try:
        return parse_address(address)
    except AddressError as exc:
        raise EntitlementError(Reason.MALFORMED_ADDRESS, str(exc)) from None


@dataclass(frozen=True)
class Entitlement:
    """One wallet's entitlement inputs at `block`. Token amounts in wei, credit in micro-USD."""

    address: str
    block: int
    timestamp: int
    staked: int
    locked: int
    cooling: int
    unlock_time: int
    pending_rewards: int
    pro_by_stake: bool
    pro_until: int
    diem_staked: int
    diem_cooling: int
    diem_cooldown_end: int
    total_staked: int
    stale: bool = False
    degraded: bool = False
    reason: str = ""

    @property
    def pro_by_subscription(self) -> bool:
        return self.pro_until > self.timestamp

    @property
    def is_pro(self) -> bool:
        return self.pro_by_stake or self.pro_by_subscription

    @property
    def pro_reason(self) -> str:
        """ "stake", "subscription", "stake+subscription" or ""."""
        parts = [
            r
            for r, on in (("stake", self.pro_by_stake), ("subscription", self.pro_by_subscription))
            if on
        ]
        return "+".join(parts)

    @property
    def daily_credit(self) -> int:
        """Today's USD credit from staked DIEM, micro-USD."""
        return daily_credit_micros(self.diem_staked)

    def vcu_allocation(self, active_stake: int, capacity: int) -> int:
        """VCU mode: this wallet's share of the daily `capacity` among active stakers, whose
        stakes (this one's included) total `active_stake`; rounded down."""
        if active_stake <= 0 or self.staked <= 0:
            return 0
        return capacity * min(self.staked, active_stake) // active_stake

    @classmethod
    def empty(cls, address: str, reason: str) -> Entitlement:
        return cls(address, 0, 0, 0, 0, 0, 0, 0, False, 0, 0, 0, 0, 0, degraded=True, reason=reason)


class _Pending:
    """A wallet queued for a read or being read: `done` set when the read ends, `entitlement`
    what it brought (None if it failed), for the threads that waited for it (with ``ttl=0``
    the cache keeps nothing for them)."""

    __slots__ = ("done", "entitlement")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.entitlement: Entitlement | None = None


class EntitlementClient:
    """Entitlements of wallets, read in batches through `EntitlementsLens`, cached."""

    def __init__(
        self,
        web3: Web3,
        lens_address: str,
        *,
        contracts: dict[str, str] | None = None,
        ttl: float = 2.0,
        grace: float = 60.0,
        block_tag: str = "latest",
        confirmations: int = 0,
        fail_open: bool = False,
        clock: Callable[[], float] = time.monotonic,
        rpc_retries: int = 1,
        breaker_cooloff: float = 2.0,
        chain_id: int | None = None,
    ):
        if not (ttl >= 0 and grace >= 0 and confirmations >= 0):  # (nan too)
            raise ValueError("ttl, grace and confirmations must be numbers, 0 or more")
        if isinstance(rpc_retries, bool) or not isinstance(rpc_retries, int) or rpc_retries < 0:
            raise ValueError("rpc_retries must be a non-negative integer")
        if block_tag not in ("latest", "safe", "finalized", "pending"):
            raise ValueError(f"block_tag {block_tag!r}: use latest, safe, finalized or pending")
        self.web3 = web3
        abi = load_abi("EntitlementsLens")
        self.lens = web3.eth.contract(address=to_checksum_address(lens_address), abi=abi)
        self._selector, self._answer = _lens_call(abi)
        self.contracts = dict(contracts or {})
        self.ttl, self.grace = ttl, grace
        self.block_tag, self.confirmations = block_tag, confirmations
        self.fail_open = fail_open
        self.clock = clock
        self.rpc_retries = rpc_retries
        # The node's breaker runs on the client's clock (so tests can move both).
        self.breaker = CircuitBreaker(breaker_cooloff, clock)
        self.chain_id = chain_id  # the manifest's, checked by probe()
        # address (as asked, and checksummed) -> (fresh until, usable until, entitlement)
        self._cache: dict[str, tuple[float, float, Entitlement]] = {}
        # The wallets queued or being read (checksummed address -> its read's end and answer): a
        # thread missing a wallet another thread is reading waits for that read, not its own.
        self._reading: dict[str, _Pending] = {}
        self._reading_lock = threading.Lock()
        # The wallets queued for the next read, whether a read is under way, and its end
        # (notified to the threads waiting for their turn or their wallets).
        self._queue: list[str] = []
        self._busy = False
        self._turn = threading.Condition(self._reading_lock)
        self._last_event_block: int | None = None
        self.rpc_calls = 0

    @classmethod
    def from_manifest(
        cls,
        manifest_path: str | Path,
        rpc_url: str,
        *,
        rpc_timeout: float = 0.5,
        timeout: float | None = None,
        **options: Any,
    ) -> EntitlementClient:
        """Bind the deployment recorded in a manifest written by `ape run deploy`.

        `rpc_timeout` is seconds per attempt (connect and read); `timeout` is its older name.
        web3's HTTP retries are turned off: the client's `rpc_retries` is the whole budget."""
        if timeout is not None:
            rpc_timeout = timeout
        if not rpc_timeout > 0:
            raise ValueError("rpc_timeout must be a positive number of seconds")
        path = Path(manifest_path)
        try:
            data = json.loads(path.read_text())
            addresses = {name: entry["address"] for name, entry in data["contracts"].items()}
            lens = addresses["EntitlementsLens"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EntitlementError(
                Reason.BAD_MANIFEST,
                f"{path} is not a deployment manifest with an EntitlementsLens: {exc}",
            ) from None
        check_rpc_url(rpc_url)
        provider = Web3.HTTPProvider(
            rpc_url,
            request_kwargs={"timeout": rpc_timeout},
            exception_retry_configuration=None,
        )
        chain_id = data.get("chain_id")
        options.setdefault("chain_id", chain_id if isinstance(chain_id, int) else None)
        return cls(Web3(provider), lens, contracts=addresses, **options)

    # --- the hot path ----------------------------------------------------------------------

    def get(self, address: str) -> Entitlement:
        """The wallet's entitlement: from the cache while fresh, else from the chain."""
        return self.cached(address) or self.get_many([address])[0]

    def cached(self, address: str) -> Entitlement | None:
        """The cached entitlement if still fresh, else None (never reads the chain)."""
        entry = self._cache.get(address)
        if entry is not None and entry[0] > self.clock():
            return entry[2]
        return None

    def get_many(self, addresses: Sequence[str]) -> list[Entitlement]:
        """Entitlements of many wallets: the cached ones from the cache, the others read in
        calls of up to 1,000 at one block (wallets another thread is reading come from its
        read)."""
        now = self.clock()
        keys = [canonical(a) if a not in self._cache else a for a in addresses]
        out: dict[str, Entitlement] = {}
        missing: list[str] = []
        for asked, key in zip(addresses, keys, strict=True):
            entry = self._cache.get(key) or self._cache.get(asked)
            if entry is not None and entry[0] > now:
                out[asked] = entry[2]
            else:
                missing.append(canonical(asked))
        if missing:
            fetched, now = self._read_once(list(dict.fromkeys(missing)), now)
            for asked in addresses:
                if asked not in out:
                    entitlement = fetched[canonical(asked)]
                    out[asked] = entitlement
                    if (
                        not entitlement.stale
                        and not entitlement.degraded
                        and asked != entitlement.address
                    ):
                        self._store(asked, entitlement, now)
        return [out[a] for a in addresses]

    def _read_once(self, unique: list[str], now: float) -> tuple[dict[str, Entitlement], float]:
        """``unique``'s entitlements (checksummed, none cached fresh), read from the chain by
        one read at a time, each read taking every wallet queued (`MAX_BATCH` a call): a
        thread queues its wallets not queued yet and waits for the reads that have them,
        making the next read itself when none is under way. So a burst of requests for a
        wallet not cached, each in its own server thread, makes one call to the node, not one
        each, and so do requests for many wallets (each read cost a call, most of a
        millisecond of Python in the thread). A wallet whose read failed, or that another
        thread's read did not bring in time, is read here (the breaker answers at once if the
        node is down): stale within the grace, else refused."""
        with self._reading_lock:
            for address in unique:
                if address not in self._reading:
                    self._reading[address] = _Pending()
                    self._queue.append(address)
            waits = [self._reading[address] for address in unique]
        fetched: dict[str, Entitlement] = {}
        failed: EntitlementUnavailable | None = None
        deadline = time.monotonic() + READ_WAIT
        while True:
            with self._reading_lock:  # (looked at under the lock: a read's end is not missed)
                if all(pending.done.is_set() for pending in waits):
                    break
                batch: list[str] = []
                if not self._busy and self._queue:  # this thread's turn to read
                    # Every wallet queued, in calls of MAX_BATCH at one block (`_read`): the
                    # wallets of one get_many are never split across blocks.
                    batch, self._queue = self._queue, []
                    self._busy = True
                elif (left_to_wait := deadline - time.monotonic()) > 0:
                    self._turn.wait(min(0.5, left_to_wait))  # until a read ends
                    continue
                else:
                    break
            got: dict[str, Entitlement] = {}
            try:
                got, _ = self._fetch_and_store(batch)
                fetched.update(got)
            except EntitlementUnavailable as exc:
                failed = exc
            finally:
                with self._reading_lock:
                    self._busy = False
                    for address in batch:
                        pending = self._reading.pop(address)
                        pending.entitlement = got.get(address)
                        pending.done.set()
                    self._turn.notify_all()
        now = self.clock()
        left: list[str] = []
        for address, pending in zip(unique, waits, strict=True):
            if address in fetched:
                continue
            if pending.entitlement is not None:  # another thread's read brought it
                fetched[address] = pending.entitlement
                continue
            entry = self._cache.get(address)
            if entry is not None and entry[0] > now:
                fetched[address] = entry[2]
            else:
                left.append(address)
        if left and failed is not None:  # (this thread's read failed: its error, at once)
            return {**fetched, **self._fallback(left, failed, now)}, now
        if left:
            more, now = self._fetch_or_fallback(left, now)
            fetched.update(more)
        return fetched, now

    def _fetch_or_fallback(
        self, addresses: list[str], now: float
    ) -> tuple[dict[str, Entitlement], float]:
        try:
            return self._fetch_and_store(addresses)
        except EntitlementUnavailable as exc:
            return self._fallback(addresses, exc, now), now

    def _fetch_and_store(self, addresses: list[str]) -> tuple[dict[str, Entitlement], float]:
        """``addresses``' entitlements read from the node (`_fetch`) and cached, and when."""
        fetched = self._fetch(addresses)
        now = self.clock()
        for entitlement in fetched.values():
            self._store(entitlement.address, entitlement, now)
        return fetched, now

    def expires_in(self, address: str) -> float | None:
        """Seconds the cached entitlement of ``address`` stays fresh (None: none is)."""
        entry = self._cache.get(address)
        if entry is None:
            return None
        left = entry[0] - self.clock()
        return left if left > 0 else None

    def refresh(self, addresses: Sequence[str]) -> None:
        """Read ``addresses``' entitlements from the chain now and cache them; the entries
        cached before are served meanwhile (a server refreshes ahead of their expiry, so no
        request waits for the chain). Raises `EntitlementUnavailable` if the node fails (the
        old entries stay, then expire as usual)."""
        unique = list(dict.fromkeys(canonical(a) for a in addresses))
        fetched = self._fetch(unique)
        now = self.clock()
        for asked in addresses:
            entitlement = fetched[canonical(asked)]
            self._store(entitlement.address, entitlement, now)
            if asked != entitlement.address:
                self._store(asked, entitlement, now)

    def invalidate(self, addresses: Iterable[str] | None = None) -> None:
        """Forget cached entries (all of them when `addresses` is None)."""
        if addresses is None:
            self._cache.clear()
            return
        drop = {canonical(a).lower() for a in addresses}
        for key in [k for k in self._cache if k.lower() in drop]:
            del self._cache[key]

    # --- reading ---------------------------------------------------------------------------

    def _block(self) -> BlockIdentifier:
        if self.confirmations == 0:
            return cast(BlockIdentifier, self.block_tag)
        self.rpc_calls += 1
        head = _quantity(self._rpc("eth_blockNumber", []))
        return max(0, head - self.confirmations)

    def _number_of(self, tag: str) -> int:
        """The number of the block ``tag`` ("latest", "safe", "finalized") names now."""
        self.rpc_calls += 1
        header = self._rpc("eth_getBlockByNumber", [tag, False])
        number = header.get("number") if isinstance(header, Mapping) else None
        if isinstance(number, int) and not isinstance(number, bool):  # (through web3's manager)
            return number
        return _quantity(number)

    def _rpc(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call, its ``result`` returned: through a JSON-RPC provider (HTTP, IPC,
        WebSocket: its URL, timeout, session and proxies) straight, without web3's middleware;
        a lens read through a web3 contract call cost 4 ms of CPU (the Python of its
        formatters, validators and argument binding, and a chain-id call), held by a server's
        worker thread against its event loop, this way 0.9 ms (`ape run bench_sdk` prints
        both). Another provider (eth-tester's, answering in Python) is asked through web3's
        request manager, which its middleware needs. Raises `RpcError` for an error answer
        or none."""
        provider = self.web3.provider
        if not isinstance(provider, JSONBaseProvider):
            # One answering in Python (eth-tester's, as ape's ``test`` network's) needs its own
            # middleware (it fills an eth_call's ``from``): through web3's request manager,
            # the answer put back in JSON-RPC's form (an int as a quantity, bytes as hex).
            result = self.web3.manager.request_blocking(RPCEndpoint(method), params)
            if isinstance(result, int) and not isinstance(result, bool):
                return hex(result)
            return "0x" + bytes(result).hex() if isinstance(result, bytes) else result
        reply = provider.make_request(RPCEndpoint(method), params)
        if not isinstance(reply, dict) or "result" not in reply:
            error = reply.get("error") if isinstance(reply, dict) else reply
            raise RpcError(f"{method} answered {error!r}"[:300])
        return reply["result"]

    def _call_lens(self, batch: list[str], block: BlockIdentifier) -> tuple[Any, Any]:
        """The lens's (totals, accounts) for ``batch`` (checksummed) at ``block``, decoded by
        eth_abi from the one ``eth_call`` (an empty answer, a lens without code, fails)."""
        data = self._selector + abi_encode(["address[]"], [batch])
        at = hex(block) if isinstance(block, int) else block
        call = {"to": self.lens.address, "data": "0x" + data.hex()}
        result = self._rpc("eth_call", [call, at])
        if not isinstance(result, str) or not result.startswith("0x"):
            raise RpcError(f"eth_call answered {result!r}"[:300])
        if result == "0x":  # (no code there: eth_abi's own error said 0 bytes were read)
            chain = f" (chain {self.chain_id})" if self.chain_id is not None else ""
            raise RpcError(
                f"no contract at {self.lens.address}, the manifest's EntitlementsLens{chain}, on "
                "this node: another chain, or a node restarted since the deploy (check --rpc, "
                "or deploy again)"
            )
        return cast(tuple[Any, Any], abi_decode(self._answer, bytes.fromhex(result[2:])))

    def _fetch(self, addresses: list[str]) -> dict[str, Entitlement]:
        """Read from the node through the breaker, with `rpc_retries` more attempts."""
        if not self.breaker.allow():
            raise EntitlementUnavailable(
                Reason.RPC_UNAVAILABLE,
                "the node failed less than "
                f"{self.breaker.cooloff:g}s ago; not asked again until then (circuit open)",
            )
        reported = False
        try:
            error: Exception | None = None
            for _ in range(1 + self.rpc_retries):
                try:
                    result = self._read(addresses)
                except Exception as exc:  # any transport, HTTP or decoding failure of the node
                    error = exc
                    continue
                self.breaker.success()
                reported = True
                return result
            self.breaker.failure()
            reported = True
            raise EntitlementUnavailable(
                Reason.RPC_UNAVAILABLE,
                f"cannot read entitlements from the node: {type(error).__name__}: {error}",
            ) from error
        finally:
            if not reported:  # interrupted mid-call: count it as a failure, never stay probing
                self.breaker.failure()

    def _read(self, addresses: list[str]) -> dict[str, Entitlement]:
        result: dict[str, Entitlement] = {}
        block = self._block()
        if len(addresses) > MAX_BATCH and isinstance(block, str) and block != "pending":
            # More than MAX_BATCH wallets take several calls: all read one block ("latest" may
            # move on between them), named by its number as the node has it, asked first: the
            # lens's blockNumber (the EVM's block.number) is not always it (on Arbitrum it is
            # L1's). ("pending" has no number a node would answer at.)
            block = self._number_of(block)
        for start in range(0, len(addresses), MAX_BATCH):
            batch = addresses[start : start + MAX_BATCH]
            self.rpc_calls += 1
            totals, accounts = self._call_lens(batch, block)
            number, timestamp, total_staked = int(totals[0]), int(totals[1]), int(totals[2])
            for address, row in zip(batch, accounts, strict=True):
                result[address] = Entitlement(
                    address=address,
                    block=number,
                    timestamp=timestamp,
                    staked=int(row[0]),
                    locked=int(row[1]),
                    cooling=int(row[2]),
                    unlock_time=int(row[3]),
                    pending_rewards=int(row[4]),
                    pro_by_stake=bool(row[5]),
                    pro_until=int(row[6]),
                    diem_staked=int(row[7]),
                    diem_cooling=int(row[8]),
                    diem_cooldown_end=int(row[9]),
                    total_staked=total_staked,
                )
        return result

    def probe(self) -> dict[str, int]:
        """Readiness of the node, through the breaker (an open breaker answers at once): the
        lens answers at the configured block (an empty restarted chain, where the lens has no
        code, does not) and the chain id is the manifest's. Returns {"chain_id", "block"};
        raises `EntitlementUnavailable` ("rpc_unavailable") or `EntitlementError`
        ("wrong_chain")."""
        if not self.breaker.allow():
            raise EntitlementUnavailable(
                Reason.RPC_UNAVAILABLE, "the node failed recently (circuit open)"
            )
        try:
            chain_id = _quantity(self._rpc("eth_chainId", []))
            totals, _ = self._call_lens([], self._block())
            block = int(totals[0])
        except BaseException as exc:
            self.breaker.failure()
            if not isinstance(exc, Exception):
                raise
            raise EntitlementUnavailable(
                Reason.RPC_UNAVAILABLE,
                f"the lens does not answer: {type(exc).__name__}: {exc}"[:300],
            ) from exc
        self.breaker.success()
        if self.chain_id is not None and chain_id != self.chain_id:
            raise EntitlementError(
                Reason.WRONG_CHAIN,
                f"the node is chain {chain_id}, the manifest's deployment is on {self.chain_id}",
            )
        return {"chain_id": chain_id, "block": block}

    def _store(self, key: str, entitlement: Entitlement, now: float) -> None:
        self._cache[key] = (now + self.ttl, now + self.ttl + self.grace, entitlement)

    def _fallback(
        self, addresses: list[str], error: EntitlementUnavailable, now: float
    ) -> dict[str, Entitlement]:
        """Stale-while-error within the grace, then fail closed (or open, if configured)."""
        out: dict[str, Entitlement] = {}
        for address in addresses:
            entry = self._cache.get(address)
            if entry is not None and entry[1] > now:
                out[address] = replace(entry[2], stale=True, reason=error.code)
            elif self.fail_open:
                out[address] = Entitlement.empty(address, error.code)
            else:
                raise error
        return out

    # --- invalidation from events ------------------------------------------------------------

    def poll_events(self) -> int:
        """Drop the cached entries of wallets named by the contracts' events since the last
        poll (first call: from the head). Returns how many wallets were invalidated."""
        head = self.web3.eth.block_number
        if self._last_event_block is None:
            self._last_event_block = head
            return 0
        if head <= self._last_event_block:
            return 0
        sources = [self.contracts[name] for name in WATCHED_CONTRACTS if name in self.contracts]
        logs = self.web3.eth.get_logs(
            {
                "fromBlock": self._last_event_block + 1,
                "toBlock": head,
                "address": [to_checksum_address(a) for a in sources],
            }
        )
        self._last_event_block = head
        touched: set[str] = set()
        for log in logs:
            for topic in log["topics"][1:3]:
                raw = bytes(topic)
                if raw[:12] == b"\x00" * 12:
                    touched.add("0x" + raw[12:].hex())
        if touched:
            self.invalidate(touched)
        return len(touched)
