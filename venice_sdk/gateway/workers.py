"""Several worker processes on one port, each with its own listening socket (``SO_REUSEPORT``).

uvicorn's ``--workers`` has every worker accept from one shared socket: the worker that wakes
first takes every connection waiting, so a client's burst of keep-alive connections can land
mostly on one worker while the others idle (measured: 64 connections opened at once landed 45
to 63 on one worker of two, and in the gateway's benchmark the busy worker queued requests for
tens of milliseconds). Here each worker listens on its own
socket bound to the same address, and the kernel spreads new connections across them by a hash
of each connection's addresses and ports.

`serve` is the supervisor: it keeps the port (a socket bound with ``SO_REUSEPORT`` that never
listens, so no connection waits on it), starts the workers, replaces one that dies after it
started serving (after a growing delay if it keeps dying young), stops them all on SIGINT or
SIGTERM, and passes SIGHUP on to every worker (each reloads its price book; one still starting
gets it once it serves). Once every worker serves it says so on stderr, once. A worker that
exits before it served stops the whole command (exit code 1): its replacement would fail the
same way. Needs ``SO_REUSEPORT`` (Linux, BSD, macOS).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "listening_socket",
    "run_server",
    "say",
    "serve",
    "serving_line",
    "single_socket",
]

log = logging.getLogger("venice_sdk.gateway")

#: How long stopping workers may take before they are killed (open streams get this long).
STOP_TIMEOUT = 10.0
#: A worker that dies within this many seconds of starting is replaced after a delay that
#: doubles each time (from `FIRST_BACKOFF` to `MAX_BACKOFF`): a worker crashing on every
#: request is not restarted five times a second; one that lived longer is replaced at once.
STABLE_AFTER = 10.0
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0


def backoff(previous: float, lived: float) -> float:
    """Seconds to wait before replacing a worker that died after ``lived`` seconds, the wait
    before its own start having been ``previous``."""
    if lived >= STABLE_AFTER:
        return 0.0
    return min(MAX_BACKOFF, max(FIRST_BACKOFF, 2 * previous))


def _socket(host: str, port: int, reuse_port: bool, reuse_addr: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if reuse_addr:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def listening_socket(host: str, port: int) -> socket.socket:
    """A worker's own socket on ``host:port`` (not listening yet: uvicorn's server listens)."""
    return _socket(host, port, reuse_port=True)


def _hold_port(host: str, port: int) -> socket.socket:
    """The supervisor's socket on ``host:port`` (0: a free port), bound but never listening.
    Raises ``SystemExit`` with one line if the port is taken, including by another process's
    ``SO_REUSEPORT`` socket (it would otherwise share our connections)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise SystemExit("error: --workers above 1 needs SO_REUSEPORT (Linux, BSD, macOS)")
    try:
        probe = _socket(host, port, reuse_port=False)  # fails if anyone has the port
        port = probe.getsockname()[1]
        probe.close()
        try:
            # Without SO_REUSEADDR: another supervisor's probe fails on it even before any of
            # our workers listens (two sockets with SO_REUSEADDR share a port none listens on).
            return _socket(host, port, reuse_port=True, reuse_addr=False)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            # A connection of an earlier server without SO_REUSEPORT in TIME_WAIT on the port.
            return _socket(host, port, reuse_port=True)
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None


def single_socket(host: str, port: int) -> socket.socket:
    """The socket of a gateway with one worker on ``host:port`` (0: a free port), bound, not
    listening yet. Raises ``SystemExit`` with one line if the port is taken."""
    try:
        return _socket(host, port, reuse_port=False)
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None


def _cannot_listen(host: str, port: int, exc: OSError) -> SystemExit:
    why = "it is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
    return SystemExit(f"error: cannot listen on {host}:{port}: {why}")


def _worker(
    app: str, host: str, port: int, options: dict[str, Any], ready: Any
) -> None:  # pragma: no cover (a spawned process: its coverage is not collected)
    """One worker: serves ``app`` on its own socket; sets ``ready`` once it serves."""
    import uvicorn

    # Until the app installs its own handler (the price book's reloader), a SIGHUP changes
    # nothing here rather than killing the worker. SIGINT is the supervisor's: a Ctrl-C
    # reaches the whole process group, and the supervisor stops the workers in order.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    sock = listening_socket(host, port)
    # uvicorn's handlers: SIGTERM (and SIGINT, ignored above) start a graceful shutdown.
    config = uvicorn.Config(app, factory=True, host=host, port=port, **options)
    run_server(config, ready.set, [sock])


def say(line: str) -> None:
    """``line`` on stderr (if closed: the workers serve all the same)."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def run_server(
    config: Any, on_serving: Callable[[], object], sockets: list[socket.socket] | None = None
) -> bool:
    """Run uvicorn's server with ``config`` (on ``sockets``, else on the address it names)
    until it stops, calling ``on_serving()`` once it listens: whether it ever served."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                on_serving()

    server = Server(config)
    server.run(sockets)
    return bool(server.started)


def serving_line(count: int, host: str, port: int, detail: str = "") -> str:
    """What the gateway says on stderr once its ``count`` workers serve (``detail``: after it,
    in brackets)."""
    host = f"[{host}]" if ":" in host else host
    workers = "1 worker" if count == 1 else f"{count} workers"
    said = f"venice-sdk gateway: {workers} serving on http://{host}:{port}"
    return f"{said} ({detail})" if detail else said


class _Supervisor:
    def __init__(
        self, app: str, host: str, port: int, workers: int, options: dict[str, Any],
        detail: str = "",
    ) -> None:  # fmt: skip
        self.app, self.host, self.port, self.options = app, host, port, options
        self.detail = detail  # said after the serving line
        self.count = workers
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[Any] = []
        self.ready: list[Any] = []  # each process's event, set once it serves
        self.hup_due: list[bool] = []  # a SIGHUP to pass on once the process serves
        self.started: list[float] = []  # when each process started
        self.delay: list[float] = []  # the wait before each process's start
        self.due: list[float | None] = []  # when a dead process's replacement starts
        self.stopping = False
        self.hup = False
        self.announced = False  # "N workers serving" said

    def start(self, i: int) -> None:
        """Start worker ``i`` (a new one, or the replacement of one that died)."""
        ready = self.context.Event()
        process = self.context.Process(
            target=_worker, args=(self.app, self.host, self.port, self.options, ready)
        )
        process.start()
        if i == len(self.processes):
            self.processes.append(process)
            self.ready.append(ready)
            self.hup_due.append(False)
            self.started.append(time.monotonic())
            self.delay.append(0.0)
            self.due.append(None)
        else:
            self.processes[i], self.ready[i] = process, ready
            self.started[i], self.due[i] = time.monotonic(), None

    def on_signal(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGHUP:
            self.hup = True
        else:
            self.stopping = True

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.on_signal)
        for i in range(self.count):
            self.start(i)
        code = 0
        try:
            while not self.stopping:
                time.sleep(0.2)
                if self.hup:
                    self.hup = False
                    self.hup_due = [True] * len(self.processes)
                self._pass_on_hup()
                self._announce()
                for i, process in enumerate(self.processes):
                    if process.is_alive() or self.stopping:
                        continue
                    if not self.ready[i].is_set():  # its replacement would fail the same way
                        log.error("a gateway worker failed to start (exit code %s); stopping",
                                  process.exitcode)  # fmt: skip
                        self.stopping, code = True, 1
                        break
                    now = time.monotonic()
                    if self.due[i] is None:
                        lived = now - self.started[i]
                        self.delay[i] = backoff(self.delay[i], lived)
                        self.due[i] = now + self.delay[i]
                        log.warning("gateway worker %s exited (%s) after %.1fs; starting another"
                                    " in %.1fs", process.pid, process.exitcode, lived,
                                    self.delay[i])  # fmt: skip
                    if now >= (self.due[i] or 0.0):
                        self.start(i)
        finally:
            self.stop()
        return code

    def _announce(self) -> None:
        """Say once, on stderr, that every worker serves (each has loaded its app)."""
        if not self.announced and all(ready.is_set() for ready in self.ready):
            self.announced = True
            say(serving_line(self.count, self.host, self.port, self.detail))

    def _pass_on_hup(self) -> None:
        """SIGHUP to each worker that has one due and serves: one still starting would die of
        it (its handler is not set yet); it gets it once it serves."""
        for i, process in enumerate(self.processes):
            if self.hup_due[i] and self.ready[i].is_set():
                self.hup_due[i] = False
                with contextlib.suppress(OSError):
                    os.kill(process.pid, signal.SIGHUP)

    def stop(self) -> None:
        for process in self.processes:
            if process.is_alive():
                with contextlib.suppress(OSError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def serve(app: str, *, host: str, port: int, workers: int, detail: str = "", **options: Any) -> int:
    """Run ``workers`` processes serving ``app`` (``"module:factory"``, called in each worker)
    on ``host:port`` until SIGINT or SIGTERM; ``options`` go to ``uvicorn.Config``. Returns the
    exit code: 0, or 1 if a worker failed to start. Raises ``SystemExit`` (one line) if the
    port cannot be had."""
    holder = _hold_port(host, port)
    try:
        return _Supervisor(app, host, holder.getsockname()[1], workers, options, detail).run()
    finally:
        holder.close()
