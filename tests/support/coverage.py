"""Statement coverage of the suite's Vyper contracts, collected from Anvil's own traces.

Why not `ape test --coverage`: ape-vyper 0.8.12 reads Vyper 0.4's *deployable* source map for
runtime pcs, never sees constructors, counts a function's entry as a statement and maps
multi-line statements by line; on these contracts it reports 53 to 63% for a suite that runs
nearly every statement (README, Coverage). This collector measures the same runs precisely:

- **Maps.** Each contract under `contracts/` (not `contracts/test/`) is compiled in-process
  with the Vyper that ape uses and ape's settings, and the runtime bytecode is checked equal to
  what ape deploys. Vyper's `pc_raw_ast_map` names the AST node behind every pc of the runtime
  and of the initcode; a pc counts for the innermost *statement* around its node, inside a
  function (dispatch and argument decoding belong to no statement). A statement with no code
  in any contract (folded away) is reported apart and not counted.
- **Runs.** While tests run, every JSON-RPC request to ape's Anvil is watched (one hook on
  `requests.Session.request`, so ape, web3 and the raw batches of `venice_ops/rpc.py` and
  `tests/support/chain.py` are all seen). Each mined transaction is traced after the fact
  (`debug_traceTransaction`: a struct log without stack or memory, and the call tree), before
  any snapshot revert or reset can drop it; each `eth_call` is traced at once with
  `debug_traceCall`. Struct-log depth changes are aligned with the call tree's frames, so every
  pc is attributed to the code that ran it (runtime at an address, or the initcode of a
  CREATE).
- **Report.** Statements per contract file, missed lines, and the total, against a minimum.

Contracts of libraries (snekmate) are compiled into ours but not counted; neither are test
helpers and the Uniswap pair, router and factory. Our own modules (`contracts/modules/`) are
counted, file by file, through the contracts that initialize them: they are never deployed
alone, so they get no map of their own.

- **Plugin.** `tests/conftest.py` loads this module with `pytest_plugins`: it adds the
  `--contract-coverage MIN` option, installs the collector on the node ape started for the
  session, and after the last test writes `.build/contract-coverage.json`, prints the report and
  fails the run under MIN percent.

Over 500 lines on purpose: the maps, the collector and the report are one algorithm (pcs to
statements, traces to pcs, statements to a figure) whose parts share private types; split, each
part would import the others' internals.
Over 500 lines on purpose: one plugin (collector, source-map reader and report) whose parts
only make sense together.
"""

from __future__ import annotations

import json
import site
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from venice_ops.paths import CONTRACTS, PROJECT_ROOT

ROOT = PROJECT_ROOT
EXCLUDED = ("test",)
# Counted, but compiled only into the contracts that initialize them.
MODULES = ("modules",)
STRUCT_LOG = {"disableStack": True, "disableMemory": True, "disableStorage": True}
CALL_TREE = {"tracer": "callTracer"}
# Requests that drop mined transactions (and their traces) from the node: flush before them.
DROPS_HISTORY = frozenset({"evm_revert", "anvil_revert", "anvil_reset", "hardhat_reset"})
CHANGES_CODE = frozenset({"anvil_setCode", "hardhat_setCode"})
FLUSH_AT = 64
# A view read again and again (the state machines check every invariant after every step)
# is traced until QUIET traces in a row have found no new pc, then one call in SAMPLE; a
# find resets the count. Skipped calls can only lower the figure, never raise it.
QUIET = 32
SAMPLE = 64


@dataclass(frozen=True, order=True)
class Statement:
    """A statement by its place in a source file (stable across compilations)."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass
class Artifact:
    """One compiled contract: its code and, per pc, the statement the pc belongs to."""

    name: str
    runtime: bytes
    initcode: bytes  # without Vyper's trailing CBOR metadata (it holds a path-dependent hash)
    runtime_pcs: dict[int, Statement]
    deploy_pcs: dict[int, Statement]


@dataclass
class Maps:
    artifacts: list[Artifact]
    statements: dict[str, list[Statement]]  # per counted file, every statement in a function
    sources: dict[str, list[str]]  # per counted file, its lines

    def with_code(self) -> set[Statement]:
        found: set[Statement] = set()
        for artifact in self.artifacts:
            found.update(artifact.runtime_pcs.values())
            found.update(artifact.deploy_pcs.values())
        return found


def _strip_metadata(code: bytes) -> bytes:
    """Vyper 0.4 ends the initcode with CBOR metadata and its 2-byte length."""
    if len(code) < 2:
        return code
    size = int.from_bytes(code[-2:], "big") + 2
    return code[:-size] if size < len(code) else code


def _counted(path: Path) -> bool:
    path = path.resolve()
    return path.is_relative_to(CONTRACTS) and path.relative_to(CONTRACTS).parts[0] not in EXCLUDED


def _module(path: Path) -> bool:
    return path.resolve().relative_to(CONTRACTS).parts[0] in MODULES


def counted_sources() -> list[Path]:
    """The deployable contracts counted (each compiled and mapped on its own)."""
    return sorted(p for p in CONTRACTS.rglob("*.vy") if _counted(p) and not _module(p))


def counted_modules() -> list[Path]:
    """Our modules: their statements are counted, their code mapped inside the contracts."""
    return sorted(p for p in CONTRACTS.rglob("*.vy") if _counted(p) and _module(p))


def _function_of(node: Any, function_type: type) -> Any:
    parent = node._parent
    while parent is not None and not isinstance(parent, function_type):
        parent = parent._parent
    return parent


def _real(node: Any, function: Any) -> bool:
    """A statement written in the function's source, not one the compiler made up (those
    carry no place, or the module's first line)."""
    return (
        node.lineno is not None
        and function.lineno <= node.lineno
        and node.end_lineno <= function.end_lineno
    )


def _statement_of(node: Any, stmt_type: type, function_type: type) -> Statement | None:
    """The innermost written statement around `node` in a function of a counted file."""
    while node is not None:
        if isinstance(node, stmt_type):
            function = _function_of(node, function_type)
            if function is None:
                return None
            if _real(node, function):
                break
        node = node._parent
    if node is None:
        return None
    path = Path(node.module_node.resolved_path)
    if not _counted(path):
        return None
    return Statement(
        str(path.resolve().relative_to(ROOT)),
        node.lineno,
        node.col_offset,
        node.end_lineno,
        node.end_col_offset,
    )


def _pc_statements(assembly: Any, stmt_type: type, function_type: type) -> dict[int, Statement]:
    from vyper.ir import compile_ir

    _, pc_maps = compile_ir.assembly_to_evm(assembly, compiler_metadata=None)
    out = {}
    for pc, node in pc_maps["pc_raw_ast_map"].items():
        statement = _statement_of(node, stmt_type, function_type)
        if statement is not None:
            out[int(pc)] = statement
    return out


def _all_statements(path: Path) -> list[Statement]:
    """Every statement inside a function of one source file, from its plain parse."""
    from vyper.ast import nodes, parse_to_ast

    module = parse_to_ast(path.read_text(), resolved_path=str(path))
    rel = str(path.resolve().relative_to(ROOT))
    found = []
    for function in module.get_children(nodes.FunctionDef):  # not an interface's signatures
        for node in function.get_descendants(nodes.Stmt):
            if not _real(node, function):
                continue
            found.append(
                Statement(rel, node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
            )
    return sorted(set(found))


def build_maps(expected_runtime: dict[str, bytes] | None = None) -> Maps:
    """Compile every counted contract as ape does and map its pcs to statements.

    `expected_runtime` (contract name -> runtime bytecode ape compiled) is checked equal, so a
    drift between this compilation and the deployed code fails loudly instead of mapping
    pcs of one program onto another."""
    from vyper.ast import nodes
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.compiler.phases import CompilerData
    from vyper.compiler.settings import OptimizationLevel, Settings

    bundle = FilesystemInputBundle([Path(p) for p in site.getsitepackages()] + [ROOT])
    artifacts = []
    statements: dict[str, list[Statement]] = {}
    sources: dict[str, list[str]] = {}
    for path in counted_sources():
        rel = path.relative_to(ROOT)
        data = CompilerData(bundle.load_file(rel), bundle, Settings(optimize=OptimizationLevel.GAS))
        name = path.stem
        runtime = bytes(data.bytecode_runtime)
        want = (expected_runtime or {}).get(name)
        if want is not None and want != runtime:
            raise RuntimeError(
                f"coverage: {rel} compiles to other runtime code than ape deployed; "
                "recompile with `ape compile --force` and check the Vyper settings"
            )
        artifacts.append(
            Artifact(
                name=name,
                runtime=runtime,
                initcode=_strip_metadata(bytes(data.bytecode)),
                runtime_pcs=_pc_statements(data.assembly_runtime, nodes.Stmt, nodes.FunctionDef),
                deploy_pcs=_pc_statements(data.assembly, nodes.Stmt, nodes.FunctionDef),
            )
        )
        statements[str(rel)] = _all_statements(path)
        sources[str(rel)] = path.read_text().splitlines()
    for path in counted_modules():
        rel = path.relative_to(ROOT)
        statements[str(rel)] = _all_statements(path)
        sources[str(rel)] = path.read_text().splitlines()
    return Maps(artifacts, statements, sources)


class Misaligned(Exception):
    """A struct log whose call depth changes do not follow its call tree."""


@dataclass
class _Frame:
    pcs: set[int] | None
    children: list[dict[str, Any]]
    next: int = 0


@dataclass
class Collector:
    """Traces what runs on one node and accumulates the pcs run per contract."""

    maps: Maps
    uri: str
    hits: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    stats: dict[str, int] = field(
        default_factory=lambda: {
            "transactions": 0,
            "calls": 0,
            "steps": 0,
            "untraced": 0,
            "misaligned": 0,
            "sampled_out": 0,
        }
    )
    pending: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.trust_env = False
        self.codes: dict[str, bytes] = {}
        self.lock = threading.RLock()
        self.problems: list[str] = []  # the first few reasons something went untraced
        self.views: dict[tuple[str, str], list[int]] = {}  # (to, selector) -> [seen, quiet]
        self.by_length: dict[int, dict[bytes, Artifact]] = {}
        for artifact in self.maps.artifacts:
            self.by_length.setdefault(len(artifact.runtime), {})[artifact.runtime] = artifact
        for artifact in self.maps.artifacts:
            self.hits[(artifact.name, "runtime")] = set()
            self.hits[(artifact.name, "deploy")] = set()

    # -- what the node is asked ---------------------------------------------------------

    def watches(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.uri)
        return (a.hostname, a.port) == (b.hostname, b.port)

    def before(self, method: str) -> None:
        if method in DROPS_HISTORY or method in CHANGES_CODE:
            with self.lock:
                self.flush(final=True)
                self.codes.clear()

    def after(self, method: str, params: Any, result: Any) -> None:
        if result is None:
            return
        with self.lock:
            if method in ("eth_sendTransaction", "eth_sendRawTransaction"):
                self.pending.append(result)
                if len(self.pending) >= FLUSH_AT:
                    self.flush()
            elif method == "eth_call" and isinstance(params, list) and len(params) <= 2:
                self.trace_call(params)

    # -- tracing ------------------------------------------------------------------------

    def _rpc(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)
        ]
        replies = self.session.post(self.uri, json=payload, timeout=120).json()
        out: list[Any] = [None] * len(calls)
        for reply in replies:
            out[int(reply["id"])] = reply.get("result")
            if "error" in reply:
                self._untraced(f"{calls[int(reply['id'])][0]}: {reply['error']}", count=0)
        return out

    def _untraced(self, why: str, count: int = 1) -> None:
        self.stats["untraced"] += count
        if len(self.problems) < 5 and why not in self.problems:
            self.problems.append(why[:200])

    def _found(self) -> int:
        return sum(len(pcs) for pcs in self.hits.values())

    def trace_call(self, params: list[Any]) -> None:
        call = params[0]
        block = params[1] if len(params) > 1 else "latest"
        if not isinstance(call, dict):
            return
        data = str(call.get("data") or call.get("input") or "")
        key = (str(call.get("to") or "").lower(), data[:10])
        state = self.views.setdefault(key, [0, 0])
        state[0] += 1
        if state[1] >= QUIET and state[0] % SAMPLE:
            self.stats["sampled_out"] += 1
            return
        try:
            logs, tree = self._rpc(
                [
                    ("debug_traceCall", [call, block, STRUCT_LOG]),
                    ("debug_traceCall", [call, block, CALL_TREE]),
                ]
            )
            before = self._found()
            self._record(logs, tree)
            state[1] = 0 if self._found() > before else state[1] + 1
            self.stats["calls"] += 1
        except Misaligned:
            self.stats["misaligned"] += 1
        except Exception as e:
            self._untraced(f"debug_traceCall: {e!r}")

    def flush(self, final: bool = False) -> None:
        """Trace the pending transactions that are mined; keep the others (a node with
        automine off mines later) unless `final`."""
        with self.lock:
            pending, self.pending = self.pending, []
            if not pending:
                return
            try:
                replies = self._rpc(
                    [
                        call
                        for h in pending
                        for call in (
                            ("debug_traceTransaction", [h, STRUCT_LOG]),
                            ("debug_traceTransaction", [h, CALL_TREE]),
                        )
                    ]
                )
            except Exception as e:
                self._untraced(f"debug_traceTransaction: {e!r}", count=len(pending))
                return
            for i, tx in enumerate(pending):
                logs, tree = replies[2 * i], replies[2 * i + 1]
                if logs is None or tree is None:
                    if final:
                        self._untraced(f"{tx}: no trace (not mined, or dropped)")
                    else:
                        self.pending.append(tx)
                    continue
                try:
                    self._record(logs, tree)
                    self.stats["transactions"] += 1
                except Misaligned:
                    self.stats["misaligned"] += 1

    def _code_of(self, addresses: set[str]) -> None:
        wanted = sorted(a for a in addresses if a not in self.codes)
        if not wanted:
            return
        results = self._rpc([("eth_getCode", [a, "latest"]) for a in wanted])
        for address, code in zip(wanted, results, strict=True):
            self.codes[address] = bytes.fromhex((code or "0x")[2:])

    def _artifact(self, code: bytes) -> Artifact | None:
        for length, table in self.by_length.items():
            if len(code) >= length:
                found = table.get(code[:length])
                if found is not None:
                    return found
        return None

    def _initcode_artifact(self, code: bytes) -> Artifact | None:
        for artifact in self.maps.artifacts:
            if code.startswith(artifact.initcode):
                return artifact
        return None

    def _frames(self, tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield tree
        for child in tree.get("calls") or ():
            yield from self._frames(child)

    def _record(self, logs: dict[str, Any], tree: dict[str, Any]) -> None:
        frames = list(self._frames(tree))
        self._code_of(
            {f["to"].lower() for f in frames if f.get("type") not in ("CREATE", "CREATE2")}
        )
        for f in frames:  # code created in this trace (where a lookup may have found none)
            if f.get("type") in ("CREATE", "CREATE2") and f.get("output"):
                self.codes[f["to"].lower()] = bytes.fromhex(f["output"][2:])

        def has_code(f: dict[str, Any]) -> bool:
            if f.get("type") in ("CREATE", "CREATE2"):
                return len(f.get("input") or "0x") > 2
            return bool(self.codes.get(f["to"].lower()))

        def frame(f: dict[str, Any]) -> _Frame:
            if f.get("type") in ("CREATE", "CREATE2"):
                artifact = self._initcode_artifact(bytes.fromhex(f["input"][2:]))
                kind = "deploy"
            else:
                artifact = self._artifact(self.codes.get(f["to"].lower(), b""))
                kind = "runtime"
            pcs = found.setdefault((artifact.name, kind), set()) if artifact else None
            return _Frame(pcs, [c for c in f.get("calls") or () if has_code(c)])

        # Credited only once the whole trace fits its call tree.
        found: dict[tuple[str, str], set[int]] = {}
        steps = logs.get("structLogs") or []
        stack = [frame(tree)]
        for step in steps:
            depth = step["depth"]
            while depth < len(stack):
                done = stack.pop()
                if done.next != len(done.children):
                    raise Misaligned
            if depth == len(stack) + 1:
                parent = stack[-1]
                if parent.next >= len(parent.children):
                    raise Misaligned
                stack.append(frame(parent.children[parent.next]))
                parent.next += 1
            elif depth != len(stack):
                raise Misaligned
            pcs = stack[-1].pcs
            if pcs is not None:
                pcs.add(step["pc"])
        if any(f.next != len(f.children) for f in stack):
            raise Misaligned
        for key, pcs_run in found.items():
            self.hits[key] |= pcs_run
        self.stats["steps"] += len(steps)

    # -- the result ---------------------------------------------------------------------

    def covered(self) -> set[Statement]:
        found: set[Statement] = set()
        for artifact in self.maps.artifacts:
            for kind, table in (("runtime", artifact.runtime_pcs), ("deploy", artifact.deploy_pcs)):
                for pc in self.hits[(artifact.name, kind)]:
                    statement = table.get(pc)
                    if statement is not None:
                        found.add(statement)
        return found


@dataclass
class FileReport:
    path: str
    statements: int
    missed: list[Statement]
    no_code: int

    @property
    def rate(self) -> float:
        if not self.statements:
            return 100.0
        return 100.0 * (self.statements - len(self.missed)) / self.statements


def report(maps: Maps, covered: set[Statement]) -> list[FileReport]:
    with_code = maps.with_code()
    out = []
    for path, statements in sorted(maps.statements.items()):
        counted = [s for s in statements if s in with_code]
        out.append(
            FileReport(
                path=path,
                statements=len(counted),
                missed=[s for s in counted if s not in covered],
                no_code=len(statements) - len(counted),
            )
        )
    return out


def total_rate(files: list[FileReport]) -> float:
    statements = sum(f.statements for f in files)
    missed = sum(len(f.missed) for f in files)
    return 100.0 * (statements - missed) / statements if statements else 100.0


def _ranges(lines: list[int]) -> str:
    parts: list[str] = []
    for line in sorted(set(lines)):
        if parts and "-" not in parts[-1] and int(parts[-1]) == line - 1:
            parts[-1] = f"{parts[-1]}-{line}"
        elif parts and "-" in parts[-1] and int(parts[-1].split("-")[1]) == line - 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{line}"
        else:
            parts.append(str(line))
    return ", ".join(parts)


def format_report(
    files: list[FileReport], stats: dict[str, int], problems: list[str] | None = None
) -> list[str]:
    width = max(len(f.path) for f in files) if files else 10
    lines = [f"{'contract':{width}s}  stmts  miss   cover  missed lines"]
    for f in files:
        missed = _ranges([s.line for s in f.missed])
        lines.append(
            f"{f.path:{width}s}  {f.statements:5d}  {len(f.missed):4d}  {f.rate:5.1f}%  {missed}"
        )
    statements = sum(f.statements for f in files)
    missed_total = sum(len(f.missed) for f in files)
    lines.append(
        f"{'TOTAL':{width}s}  {statements:5d}  {missed_total:4d}  {total_rate(files):5.1f}%"
    )
    no_code = sum(f.no_code for f in files)
    lines.append(
        f"traced: {stats['transactions']:,} transactions and {stats['calls']:,} calls, "
        f"{stats['steps']:,} steps ({stats['sampled_out']:,} repeated view calls sampled out); "
        f"untraced {stats['untraced']}, "
        f"misaligned {stats['misaligned']}; {no_code} statements compile to no code "
        "(not counted)"
    )
    lines.extend(f"untraced: {why}" for why in problems or ())
    return lines


def write_json(path: Path, files: list[FileReport], maps: Maps) -> None:
    data = {
        "total": round(total_rate(files), 2),
        "files": {
            f.path: {
                "statements": f.statements,
                "covered": f.statements - len(f.missed),
                "missed": [
                    {"line": s.line, "source": maps.sources[f.path][s.line - 1].strip()}
                    for s in f.missed
                ],
            }
            for f in files
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


# -- the hook ---------------------------------------------------------------------------

_ORIGINAL = requests.Session.request
_ACTIVE: list[Collector] = []


def _payload(kwargs: dict[str, Any]) -> Any:
    if kwargs.get("json") is not None:
        return kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, bytes | str):
        try:
            return json.loads(data)
        except ValueError:
            return None
    return None


def _hooked(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
    collector = _ACTIVE[0] if _ACTIVE else None
    if collector is None or self is collector.session or not collector.watches(str(url)):
        return _ORIGINAL(self, method, url, *args, **kwargs)
    payload = _payload(kwargs)
    requests_ = payload if isinstance(payload, list) else [payload]
    requests_ = [r for r in requests_ if isinstance(r, dict) and "method" in r]
    for r in requests_:
        collector.before(r["method"])
    response = _ORIGINAL(self, method, url, *args, **kwargs)
    if not requests_ or kwargs.get("stream"):
        return response
    try:
        body = response.json()
    except ValueError:
        return response
    replies = body if isinstance(body, list) else [body]
    by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
    for r in requests_:
        reply = by_id.get(r.get("id")) if len(requests_) > 1 else (replies[0] if replies else None)
        if isinstance(reply, dict) and "result" in reply:
            collector.after(r["method"], r.get("params"), reply["result"])
    return response


def install(collector: Collector) -> None:
    _ACTIVE[:] = [collector]
    requests.Session.request = _hooked  # type: ignore[method-assign]


def uninstall() -> None:
    if _ACTIVE:
        _ACTIVE[0].flush(final=True)
    _ACTIVE.clear()
    requests.Session.request = _ORIGINAL  # type: ignore[method-assign]


################################################################
#                         PYTEST PLUGIN                        #
################################################################

CONTRACT_COVERAGE = pytest.StashKey[tuple[Collector, float]]()
CONTRACT_COVERAGE_REPORT = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--contract-coverage",
        type=float,
        metavar="MIN",
        default=None,
        help="Trace every transaction and call on Anvil, report statement coverage of the "
        "contracts (tests/support/coverage.py) and fail under MIN percent.",
    )


@pytest.fixture(scope="session", autouse=True)
def _contract_coverage(request: pytest.FixtureRequest) -> Iterator[None]:
    """Under --contract-coverage, watch the node ape started from the first test on."""
    minimum = request.config.getoption("--contract-coverage")
    if minimum is None:
        yield
        return
    from ape import chain, project

    deployed = {}
    for source in counted_sources():
        code = project.get_contract(source.stem).contract_type.runtime_bytecode.bytecode
        deployed[source.stem] = bytes.fromhex(code.removeprefix("0x"))
    maps = build_maps(deployed)
    collector = Collector(maps, str(chain.provider.http_uri))  # type: ignore[attr-defined]
    install(collector)
    request.config.stash[CONTRACT_COVERAGE] = (collector, minimum)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Iterator[None]:
    """After the last test (before the node stops): the report, and the gate."""
    yield
    found = session.config.stash.get(CONTRACT_COVERAGE, None)
    if found is None:
        return
    collector, minimum = found
    uninstall()
    files = report(collector.maps, collector.covered())
    write_json(ROOT / ".build" / "contract-coverage.json", files, collector.maps)
    lines = format_report(files, collector.stats, collector.problems)
    rate = total_rate(files)
    if rate < minimum:
        lines.append(f"FAIL: contract statement coverage {rate:.1f}% is below {minimum:g}%")
        session.testsfailed += 1
    session.config.stash[CONTRACT_COVERAGE_REPORT] = lines


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The report, after the other summaries (the gas table)."""
    lines = config.stash.get(CONTRACT_COVERAGE_REPORT, None)
    if lines:
        terminalreporter.section("contract statement coverage (.build/contract-coverage.json)")
        for line in lines:
            terminalreporter.write_line(line)
