"""Server-sent events passed through chunk by chunk, with the usage read on the side.

`SseScanner` follows the events of an OpenAI-style stream as its bytes go by (never holding the
stream back): how many events carried output, and the latest ``usage`` seen. `MeteredStream`
is the ASGI response that copies the upstream's bytes to the client as they arrive, watches for
the client going away (then stops reading the upstream and closes it, which cancels the
request there), drops a client that reads nothing for ``stall_timeout`` seconds while its
socket is full (the same end: "disconnected"), and calls back once with how the stream ended,
shielded from cancellation so the request is always settled or released.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from starlette.types import Receive, Scope, Send

from venice_sdk.gateway.upstream import UPSTREAM_ERRORS, UpstreamResponse, describe

__all__ = ["Ending", "MeteredStream", "SseScanner", "Usage", "answer_usage", "drained", "drop"]

#: Seconds a client may read nothing while its socket is full before it is dropped (default).
STALL_TIMEOUT = 60.0

#: How a stream ended: the upstream finished it, the client went away, or the upstream failed.
Ending = Literal["complete", "disconnected", "upstream_failed"]


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int


def usage_of(obj: Any) -> Usage | None:
    """The ``usage`` of a response or chunk, if it has a well-formed one."""
    if not isinstance(obj, dict):
        return None
    usage = obj.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens", 0)
    if completion is None:
        completion = 0
    for value in (prompt, completion):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return None
    assert isinstance(prompt, int) and isinstance(completion, int)
    return Usage(prompt, completion)


def answer_usage(data: bytes) -> Usage | None:
    """The ``usage`` of an answer read whole (a JSON object), read from its end when it is a
    member of the top-level object there (as every OpenAI-compatible server sends it), else by
    parsing the whole answer. A full parse on the event loop cost 0.7 s for the 41 MB answer
    of an embeddings request of 2,048 one-word inputs (1,024 dimensions): a request costing
    a fraction of a cent stalled every stream of the worker that long."""
    at = len(data)
    for _ in range(_TAIL_TRIES):
        at = data.rfind(b'"usage"', 0, at)
        if at < 0:
            break
        if _quoted(data, at):  # inside a string (its quote escaped): not a key
            continue
        found, usage = _usage_at(data, at)
        if found:
            return usage
        break
    try:
        return usage_of(json.loads(data))
    except (ValueError, RecursionError):
        return None


#: Occurrences of ``"usage"`` inside strings looked past from the end before a full parse.
_TAIL_TRIES = 8
#: JSON's whitespace (Python's `str.strip` takes more: ``\x1c`` is no space to a JSON parser).
_JSON_SPACE = " \t\n\r"
_DECODER = json.JSONDecoder()


def _quoted(data: bytes, at: int) -> bool:
    """Whether the quote at ``at`` is escaped (an odd number of backslashes before it)."""
    start = at
    while start > 0 and data[start - 1] == 0x5C:  # "\\"
        start -= 1
    return (at - start) % 2 == 1


def _usage_at(data: bytes, at: int) -> tuple[bool, Usage | None]:
    """(True, its usage) if the key ``"usage"`` at ``at`` is a member of the top-level object
    (what follows its value closes that object, with at most other members between: a key
    nested deeper is followed by more closing brackets), else (False, None)."""
    try:
        tail = data[at + len(b'"usage"') :].decode()
        colon = len(tail) - len(tail.lstrip(_JSON_SPACE))
        if tail[colon : colon + 1] != ":":
            return False, None
        start = colon + 1
        start += len(tail[start:]) - len(tail[start:].lstrip(_JSON_SPACE))
        value, end = _DECODER.raw_decode(tail, start)
        rest = tail[end:].lstrip(_JSON_SPACE)
        if rest.startswith(","):  # more members: they and the closing brace must be all
            members = json.loads("{" + rest[1:])
            if not isinstance(members, dict):
                return False, None
        elif rest.rstrip(_JSON_SPACE) != "}":
            return False, None
    except (ValueError, RecursionError):  # (UnicodeDecodeError too)
        return False, None
    return True, usage_of({"usage": value})


@dataclass
class SseScanner:
    """Reads the events out of a stream's bytes as they pass."""

    events: int = 0  # events with choices (output)
    #: The stream's usage so far as its events tell it (vLLM's continuous usage: each event
    #: carries its choice's own, so the output is the sum of each choice's latest).
    usage: Usage | None = None
    final_usage: Usage | None = None  # the usage chunk (no choices) that ends a stream
    done: bool = False  # saw "data: [DONE]"
    _buffer: bytearray = field(default_factory=bytearray, repr=False)
    _oversized: bool = field(default=False, repr=False)  # the event in _buffer is not read
    _choices: dict[Any, int] = field(default_factory=dict, repr=False)  # tokens by choice
    _output: int = field(default=0, repr=False)  # their sum

    def feed(self, chunk: bytes) -> None:
        # The common read: whole events of output, none with usage (no event is split across
        # reads, nothing to parse): counted in C, without slicing them apart.
        if (
            not self._buffer
            and chunk.endswith(b"\n\n")
            and b'"usage"' not in chunk
            and b"\r" not in chunk
            and b"data: [DONE]" not in chunk
        ):
            events = chunk.count(b"\n\n")
            # Each one output (else: one by one); compact JSON, as servers send it, is counted
            # without the regular expression (half the scanner's time per chunk).
            if chunk.count(b'"choices":[{') == events or len(_OUTPUT.findall(chunk)) == events:
                self.events += events
                return
        # Linear in the bytes fed, however they split: appended and cut in place, and only the
        # new bytes searched for an end (what was kept has none; a separator may begin in its
        # last 3 bytes). Copying and searching the whole buffer at each read made an event of
        # 1 MiB in parts of 512 bytes cost 1.6 s of the event loop.
        buffer = self._buffer
        start = max(0, len(buffer) - 3)
        buffer += chunk
        while True:
            cut = _event_end(buffer, start)
            if cut is None:
                if len(buffer) > MAX_EVENT:
                    # An event without end (or bigger than any usage chunk): passed on, not
                    # read; its tail is kept only to find where it ends (memory stays bounded).
                    del buffer[:-3]
                    self._oversized = True
                return
            end, skip = cut
            event = bytes(buffer[:end])
            del buffer[: end + skip]
            start = 0
            if self._oversized:  # counted as output (a stream cut short pays for it)
                self._oversized = False
                self.events += 1
                continue
            self._event(event)

    def _event(self, event: bytes) -> None:
        data = b"\n".join(
            line[5:].strip() for line in event.splitlines() if line.startswith(b"data:")
        )
        if not data:
            return
        if data == b"[DONE]":
            self.done = True
            return
        if b'"usage"' not in data and _OUTPUT.search(data):
            # The common chunk: output and no usage, counted without parsing it (the hot path
            # of a stream: a parse costs about as much as passing the chunk on).
            self.events += 1
            return
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            return
        usage = usage_of(obj)
        choices = obj.get("choices") if isinstance(obj, dict) else None
        if usage is not None and isinstance(choices, list) and choices:
            for choice in choices:
                index = choice.get("index") if isinstance(choice, dict) else None
                index = index if isinstance(index, int) else None
                # (a running sum: summing every choice per event made a batch of many
                # prompts quadratic)
                self._output += usage.completion_tokens - self._choices.get(index, 0)
                self._choices[index] = usage.completion_tokens
            self.usage = Usage(usage.prompt_tokens, self._output)
        elif usage is not None:
            self.usage = usage
        if choices:
            self.events += 1
        elif usage is not None:
            self.final_usage = usage


#: Most bytes of one event the scanner reads (a usage chunk is a few hundred); a longer event
#: still streams to the client, unread.
MAX_EVENT = 1024 * 1024

#: An event whose ``choices`` is a list of objects (so not empty).
_OUTPUT = re.compile(rb'"choices"\s*:\s*\[\s*\{')


def _event_end(buffer: bytearray, start: int) -> tuple[int, int] | None:
    """Where the first complete event of ``buffer`` ending at or after ``start`` ends, and the
    separator's length (``\r\n\r\n`` is looked for only before the first ``\n\n``)."""
    lf = buffer.find(b"\n\n", start)
    crlf = buffer.find(b"\r\n\r\n", start, lf + 3) if lf >= 0 else buffer.find(b"\r\n\r\n", start)
    if crlf >= 0:
        return crlf, 4
    return (lf, 2) if lf >= 0 else None


class MeteredStream:
    """An ASGI response streaming an upstream's SSE body to the client as it arrives.

    ``on_end(ending, scanner, sent_any)`` is awaited exactly once, after the upstream response is
    closed, whatever happened (shielded from the cancellation of a client that went away);
    ``on_sent()``, if given, is called just before, once the client has had all it will get.
    """

    def __init__(
        self,
        upstream: UpstreamResponse,
        headers: dict[str, str],
        on_end: Callable[[Ending, SseScanner, bool], Awaitable[None]],
        stall_timeout: float = STALL_TIMEOUT,
        on_sent: Callable[[], object] | None = None,
    ) -> None:
        self.upstream = upstream
        self.headers = headers
        self.on_end = on_end
        self.stall_timeout = stall_timeout
        self.on_sent = on_sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scanner = SseScanner()
        # "ending" stays None while the stream runs; the first of its ends to happen names it.
        state: dict[str, Any] = {"ending": None, "sent": False}
        raw_headers = [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        raw_headers.append((b"content-type", b"text/event-stream; charset=utf-8"))
        raw_headers.append((b"cache-control", b"no-cache"))
        try:
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    if state["ending"] is None:
                        state["ending"] = "disconnected"
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                await self._pump(send, raw_headers, scanner, state)
                group.cancel_scope.cancel()
        finally:
            if self.on_sent is not None:  # the client has all it will get (before the settle)
                self.on_sent()
            with anyio.CancelScope(shield=True):
                # Closes its connection unless the stream ended: cancels the request upstream.
                self.upstream.close()
                try:
                    self.upstream.scan()  # what was relayed (billed even if the client left)
                finally:
                    state["sent"] = state["sent"] or scanner.events > 0
                    await self.on_end(state["ending"] or "disconnected", scanner, state["sent"])

    async def _pump(
        self,
        send: Send,
        raw_headers: list[tuple[bytes, bytes]],
        scanner: SseScanner,
        state: dict[str, Any],
    ) -> None:
        try:
            await self._send(send, {"type": "http.response.start", "status": 200,
                                    "headers": raw_headers})  # fmt: skip
            try:
                cycle = _direct(send)
                if cycle is not None:
                    await self._relay(cycle, scanner)
                else:
                    async for chunk in self.upstream.iter_any():
                        try:
                            await self._send(send, {"type": "http.response.body", "body": chunk,
                                                    "more_body": True})  # fmt: skip
                        finally:  # (the upstream sent it: billed even if the client is dropped)
                            scanner.feed(chunk)
                            state["sent"] = state["sent"] or scanner.events > 0
            except UPSTREAM_ERRORS as exc:
                state["ending"] = state["ending"] or "upstream_failed"
                error = {"error": {"message": f"upstream failed mid-stream: {describe(exc)}",
                                   "type": "service_unavailable", "param": None,
                                   "code": "upstream_unavailable"}}  # fmt: skip
                event = b"data: " + json.dumps(error).encode() + b"\n\n"
                await self._send(send, {"type": "http.response.body", "body": event,
                                        "more_body": True})  # fmt: skip
            state["ending"] = state["ending"] or "complete"
            await self._send(send, {"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client's socket is gone, or it was dropped for reading nothing
            state["ending"] = state["ending"] or "disconnected"

    async def _send(self, send: Send, message: dict[str, Any]) -> None:
        """``send(message)``, given up when the client read nothing for ``stall_timeout`` s (a
        server's send waits while the client's socket is full): then the client is dropped and
        `_stalled` raised. Behind uvicorn the wait is this one's, so a client that reads, however
        slowly, is waited for; behind another server, the send is given ``stall_timeout`` s."""
        paused = _paused(send)
        stalled = paused is not None and not await _writable(*paused, self.stall_timeout)
        if not stalled:
            with anyio.move_on_after(self.stall_timeout) as waited:
                await send(message)
            stalled = waited.cancelled_caught
        if stalled:
            drop(send)
            raise _stalled(self.stall_timeout)

    async def _relay(self, cycle: Any, scanner: SseScanner) -> None:
        """Copy the body to the client's socket from the upstream connection's callback, in
        the chunked framing the server chose (no task wakes per chunk: a streamed chunk then
        costs a read and a write, not two task switches and the ASGI send); this task only
        waits for the end, and for the client's socket to drain when it cannot keep up (the
        upstream is not read meanwhile)."""
        upstream, transport, flow = self.upstream, cycle.transport, cycle.flow
        upstream.relay(transport, flow, scanner.feed)
        while True:
            await upstream.ended()
            if upstream.complete:
                return
            if cycle.disconnected or transport.is_closing():
                # (uvicorn marks only its newest request disconnected: one pipelined behind
                # this stream would leave `watch` waiting)
                _gone(cycle)
                raise ConnectionResetError("the client's connection closed")
            if not await _writable(flow, transport, self.stall_timeout):
                _abort(cycle)
                raise _stalled(self.stall_timeout)
            upstream.release_hold()


async def drained(send: Send, seconds: float) -> None:
    """After a response's last message: wait for what is left of it in the server's buffer to
    go out (uvicorn waits before a write, never after the last), or drop the client once it has
    read nothing for ``seconds`` (a slow one is waited for, however big the answer). A client
    that reads nothing would otherwise keep the answer in the gateway's memory for as long as
    its connection lives (an answer read whole is up to 256 MiB)."""
    paused = _paused(send)
    if paused is not None and not await _writable(*paused, seconds):
        drop(send)


def _paused(send: Send) -> tuple[Any, Any] | None:
    """uvicorn's flow control and transport behind ``send`` if its writes are paused (the
    client's socket is full), else None (or another server)."""
    cycle: Any = getattr(send, "__self__", None)
    flow, transport = getattr(cycle, "flow", None), getattr(cycle, "transport", None)
    if transport is None or getattr(flow, "write_paused", False) is not True:
        return None
    return flow, transport


async def _writable(flow: Any, transport: Any, seconds: float) -> bool:
    """Wait until the client's socket takes writes again (uvicorn's ``flow.drain()``): False
    if the client read nothing for ``seconds`` (its connection's write buffer did not shrink),
    True once it drained. A client that reads, however slowly, is waited for: one that reads
    less than a buffer's worth each ``seconds`` is reading, not stalled."""
    size = transport.get_write_buffer_size()
    while True:
        with anyio.move_on_after(seconds) as waited:
            await flow.drain()
        if not waited.cancelled_caught:
            return True
        now = transport.get_write_buffer_size()
        if now >= size:
            return False
        size = now


def drop(send: Send) -> None:
    """Close the connection of the client behind ``send`` at once, what it has not read
    discarded (a graceful close would wait for a client that reads nothing): uvicorn's
    response cycles hold their transport; behind another server, nothing is done here."""
    _abort(getattr(send, "__self__", None))


def _abort(cycle: Any) -> None:
    """Abort the connection of uvicorn's response ``cycle`` and mark it gone (`_gone`)."""
    abort = getattr(getattr(cycle, "transport", None), "abort", None)
    if callable(abort):
        abort()
        _gone(cycle)


def _gone(cycle: Any) -> None:
    """Mark uvicorn's response cycle disconnected, its connection closed or closing: uvicorn
    marks only its newest request's, and of a request with one pipelined behind it (left
    unmarked) that ends unfinished it logs an error ("ASGI callable returned without
    completing response"), for what is only a client gone."""
    if isinstance(getattr(cycle, "disconnected", None), bool):
        cycle.disconnected = True


def _stalled(seconds: float) -> ConnectionResetError:
    """The client's end when it read nothing for ``seconds`` while its socket was full."""
    return ConnectionResetError(f"the client read nothing for {seconds:g}s")


def _direct(send: Send) -> Any:
    """uvicorn's response cycle behind ``send`` if the body can be written to its socket
    directly: its httptools protocol, a chunked response started (else None: the ASGI path)."""
    cycle: Any = getattr(send, "__self__", None)
    if type(cycle).__module__ != "uvicorn.protocols.http.httptools_impl":
        return None
    try:
        ready = (
            cycle.chunked_encoding is True
            and cycle.response_started
            and not cycle.response_complete
            and not cycle.disconnected
            and cycle.scope["method"] != "HEAD"
            and callable(cycle.flow.drain)
        )
        return cycle if ready and isinstance(cycle.flow.write_paused, bool) else None
    except AttributeError:  # another uvicorn version's internals: the ASGI path
        return None
