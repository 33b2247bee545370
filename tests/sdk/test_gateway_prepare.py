"""A request's body read and checked (`venice_sdk.gateway.prepare`): the same answer in the
worker and in the process a large body goes to; a large body does not hold up the worker's
event loop; the process dying is a 503 for the request it had, and the next one starts another.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.support.fake_gate import PRICES
from venice_sdk.gateway.prepare import Preparer, Refused, catalog_of, prepare
from venice_sdk.pricing import PriceBook

BOOK = PriceBook.from_dict(PRICES)


def _body(**fields: Any) -> bytes:
    return json.dumps({"model": "tiny", **fields}).encode()


CASES: list[tuple[str, bytes]] = [
    ("chat", _body(messages=[{"role": "user", "content": "hi"}], stream=True, max_tokens=7)),
    ("completions", _body(prompt=["a", "b", [1, 2]], n=2, max_tokens=3)),
    ("embeddings", _body(input="hello")),
    ("chat", _body(messages=[], stream="yes")),
    ("chat", _body(messages=[], max_tokens=0)),
    ("chat", json.dumps({"model": "nope", "messages": []}).encode()),
    ("chat", b"[1, 2"),
    ("chat", '{"model": "tiny"}'.encode("utf-16")),
    ("chat", _body(messages=[], stream=True, stream_options=[])),
    ("chat", b'{"model": "tiny", "messages": [], "temperature": NaN}'),
]


def _outcome(call: Any) -> Any:
    try:
        done = call()
    except Refused as refused:
        return ("refused", refused.reason, refused.message, refused.status)
    return ("prepared", done.model, done.streaming, done.bound, json.loads(done.payload))


def test_a_large_body_is_prepared_in_a_process_as_a_small_one_is_in_the_worker() -> None:
    """Each case (prepared, or refused with its reason and status) comes out the same from
    the worker's own call and from the process's (the catalog sent there as a plain dict)."""
    preparer = Preparer(inline_bytes=0)  # every body to the process

    async def run() -> list[Any]:
        out = []
        for kind, raw in CASES:

            async def there(kind: str = kind, raw: bytes = raw) -> Any:
                try:
                    done = await preparer.prepare(kind, raw, BOOK, 1_000, True)
                except Refused as refused:
                    return ("refused", refused.reason, refused.message, refused.status)
                return ("prepared", done.model, done.streaming, done.bound,
                        json.loads(done.payload))  # fmt: skip

            out.append(await there())
        preparer.close()
        return out

    remote = asyncio.run(run())
    local = [_outcome(lambda k=k, r=r: prepare(k, r, catalog_of(BOOK), 1_000, True))
             for k, r in CASES]  # fmt: skip
    assert remote == local
    first = local[0]
    assert first[0] == "prepared" and first[2] is True  # a stream, asking for usage
    assert first[4]["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}
    assert first[4]["max_tokens"] == 7 and first[3].output_tokens == 7
    assert local[1][3].prompts == 3 and local[1][3].output_tokens == 3 * 2 * 3
    codes = [case[1] for case in local[3:]]
    assert codes == ["bad_request", "bad_request", "unknown_model", "bad_request",
                     "bad_request", "bad_request", "bad_request"]  # fmt: skip
    assert local[5][3] == 404 and "'stream' must be true or false" in local[3][2]
    assert "cannot be sent on as JSON" in local[9][2]


@pytest.mark.timing
def test_a_large_body_does_not_hold_up_the_event_loop() -> None:
    """A body of a million small JSON arrays (4 MiB, within the default body limit) takes the
    interpreter for a good part of a second to parse and write again. Read in the worker, it
    held the event loop that long (every request and stream of the worker waited); in the
    worker's process for large bodies, the loop goes on ticking. Both measured here, side by
    side: the longest gap between ticks of a 1 ms ticker while the body is prepared."""
    raw = b'{"model": "tiny", "prompt": [' + b",".join([b"[0]"] * 1_000_000) + b"]}"

    async def longest_gap(preparer: Preparer) -> tuple[float, Any]:
        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        prepared = await preparer.prepare("completions", raw, BOOK, 16)
        done.set()
        await task
        preparer.close()
        return max(gaps), prepared

    warm = Preparer(inline_bytes=0)
    warm.start()  # (the process started before the clock runs, as a worker does at startup)
    time.sleep(1.0)
    in_process, prepared = asyncio.run(longest_gap(warm))
    inline, same = asyncio.run(longest_gap(Preparer(inline_bytes=len(raw))))
    assert prepared.bound == same.bound and prepared.payload == same.payload
    assert prepared.bound.prompts == 1_000_000
    print(f"longest stall of the loop: in the worker {inline * 1e3:.0f} ms, "
          f"in its process {in_process * 1e3:.0f} ms")  # fmt: skip
    assert inline > 0.2  # (what the process spares the loop)
    assert in_process < inline / 4


def test_the_process_dying_is_a_503_and_the_next_body_starts_another() -> None:
    preparer = Preparer(inline_bytes=0)
    raw = _body(messages=[{"role": "user", "content": "hi"}])

    async def run() -> tuple[Any, Any, Any]:
        first = await preparer.prepare("chat", raw, BOOK, 16)
        pool = preparer._pool
        assert pool is not None
        for process in list(pool._processes.values()):  # (killed: out of memory, say)
            process.kill()
            process.join()
        with pytest.raises(Refused) as died:
            await preparer.prepare("chat", raw, BOOK, 16)
        again = await preparer.prepare("chat", raw, BOOK, 16)
        preparer.close()
        return first, died.value, again

    first, died, again = asyncio.run(run())
    assert died.status == 503 and "retry" in died.message
    assert again == first


def test_the_process_ends_with_the_worker_that_started_it() -> None:
    """A worker ends with ``os._exit`` (or is killed): the pool's goodbye never reaches its
    process for large bodies, which waited for ever on its queue (found running after the
    gateway stopped). It now watches its parent and exits after it."""
    script = (
        "import os, sys, time\n"
        "from venice_sdk.gateway.prepare import Preparer\n"
        "p = Preparer(); p.start()\n"
        "pid = next(iter(p._pool._processes))\n"
        "print(pid, flush=True); time.sleep(0.5); os._exit(0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    child = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, f"the process {child} outlived its worker"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # (a zombie is gone)
        return stat.read().split(") ", 1)[1][0] != "Z"
