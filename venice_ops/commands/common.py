"""What the command-line scripts share: the signing account, output, parsing and formatting
of what a person types and reads, and user mistakes.

A user mistake (a bad amount, a missing manifest, a reverted transaction) is printed as one
`error: ...` line on stderr and exits with code 1, never as a traceback. `common_options` gives
a command the common options (`--account`, `--deployments`) and that error handling.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

import click
import requests
from ape import accounts, chain
from ape.api import AccountAPI
from ape.cli import ConnectedProviderCommand, account_option
from ape.cli.options import NETWORK_META_KEY
from ape.exceptions import AccountsError, ProviderError, TransactionError, VirtualMachineError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from venice_ops.deploy.config import USDC_DECIMALS, ConfigError
from venice_ops.deploy.network import DEV_CHAIN_IDS, use_dev_node
from venice_ops.deploy.suite import ManifestError, Suite, load_suite
from venice_ops.deploy.tx import transact
from venice_ops.paths import DEPLOYMENTS
from venice_sdk.addresses import AddressError
from venice_sdk.addresses import parse_address as sdk_parse_address
from venice_sdk.units import AmountError, format_units, parse_units

# Only on a development chain (DEV_CHAIN_IDS: Anvil, Hardhat, geth --dev, whose test accounts
# are public) does a command sign with a default account.
ZERO_ADDRESS = "0x" + "00" * 20

# soft_wrap: a message is never broken across lines, so it can be grepped and tested.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(RuntimeError):
    """A mistake the user can fix; the message says what was wrong and what to do."""


class TransactionReverted(UserError):
    """A transaction the checks let through but the contract refused."""


@dataclass(frozen=True)
class Outcome:
    """What an action did: a message for the user and the receipts of its transactions."""

    message: str
    receipts: list[Any] = field(default_factory=list)


def is_dev_chain() -> bool:
    """True on ape's local network or on a development node reached by its URI."""
    return chain.provider.network.name == "local" or chain.chain_id in DEV_CHAIN_IDS


def resolve_signer(account: AccountAPI | None) -> AccountAPI:
    """The account given by `--account`, else the first test account on a development chain.

    On any other chain there is no safe default and the user must name one: a command never
    prompts.
    """
    if account is not None:
        return account
    if is_dev_chain():
        return accounts.test_accounts[0]
    raise UserError(
        f"no account given for chain {chain.chain_id}: pass --account ALIAS "
        "(see `ape accounts list`); only a local development chain defaults to test account 0"
    )


def send(method: Any, *args: Any, sender: AccountAPI) -> Any:
    """Send `method(*args)` from `sender` with gas headroom (see `transact`); a revert becomes
    `TransactionReverted` with the contract's reason."""
    try:
        return transact(method, *args, sender=sender)
    except VirtualMachineError as exc:
        reason = getattr(exc, "revert_message", None) or str(exc) or type(exc).__name__
        raise TransactionReverted(f"the transaction reverted: {reason}") from None


def print_rows(rows: Iterable[tuple[str, str]]) -> None:
    """A status: bold labels beside their values, folded rather than cut when narrow."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)


def fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise SystemExit(1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the user's mistakes into one line and exit code 1."""
    try:
        yield
    except (UserError, ConfigError, ManifestError, AmountError, AccountsError) as exc:
        fail(str(exc))
    except TransactionError as exc:
        # Not caught by a check: a node refusing the transaction (wrong chain id, no funds).
        fail(f"transaction failed: {exc}")


def usage_error(exc: click.UsageError) -> NoReturn:
    """click's own usage errors (a missing argument, an unknown option or subcommand, an
    integer option given text) exit 2 with a usage block; ours exit 1 with one line."""
    message = " ".join(exc.format_message().split())
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    fail(f"{message}{where}")


class _OneLineContext(click.Command):
    """Usage errors met while parsing the command line become one line (`usage_error`)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            usage_error(exc)


class OneLineUsage(_OneLineContext):
    """A command whose usage errors are one `error:` line and exit code 1 (`usage_error`)."""


class CommandGroup(_OneLineContext, click.Group):
    """Every command group of the scripts (`@click.group(cls=CommandGroup)`): its own usage
    errors (an unknown subcommand) and its subcommands' are one line and exit code 1."""

    command_class = OneLineUsage

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            usage_error(exc)


class NodeCommand(OneLineUsage, ConnectedProviderCommand):
    """ape's `ConnectedProviderCommand`, except that a node it cannot reach (not started yet,
    a typo in the URI) is reported in one line instead of a traceback, and so are usage
    errors (`OneLineUsage`). A local network's own node (`ethereum:local:http://...`) is
    reached through `DevNode`, so Hardhat's node works as Anvil does."""

    def invoke(self, ctx: click.Context) -> Any:
        meta = ctx.meta.get(NETWORK_META_KEY) or {}
        chosen = meta.get("provider") or ctx.params.get("network")
        if (node := use_dev_node(chosen)) is not chosen:
            for holder, key in ((meta, "provider"), (ctx.params, "network")):
                if holder.get(key) is chosen:
                    holder[key] = node
        try:
            return super().invoke(ctx)
        except (ProviderError, requests.ConnectionError) as exc:
            # ape reports an unreachable `node` URI as a requests ConnectionError subclass.
            fail(f"cannot use the network: {exc} Is the node running (e.g. `anvil`)?")


# Commands taking an amount: a negative amount ("-5") reaches the amount check instead of
# reading as an unknown option.
AMOUNT_COMMAND: dict[str, Any] = {
    "cls": NodeCommand,
    "context_settings": {"ignore_unknown_options": True},
}


def deployments_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--deployments",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEPLOYMENTS,
        envvar="VENICE_DEPLOYMENTS",
        show_default=False,
        help="Folder of the manifests, one <chain_id>.json per network (default: deployments/).",
    )


def common_options(
    *, account: bool = True, deployments: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A command's common options and error handling, in one decorator (put it right above the
    function, below the command's own options): `--account ALIAS` (ape's, never prompting;
    `resolve_signer` picks the default), `--deployments DIR` (the manifests' folder), and the
    user's mistakes turned into one `error: ...` line and exit code 1 (`user_errors`)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            with user_errors():
                return command(*args, **kwargs)

        wrapped: Callable[..., Any] = run
        if deployments:
            wrapped = deployments_option()(wrapped)
        if account:
            wrapped = account_option(prompt=False)(wrapped)
        return wrapped

    return decorate


def done(outcome: Outcome) -> None:
    """Print what an action did."""
    console.print(outcome.message)


def signer_command(
    group: click.Group, name: str, action: Callable[[Suite, AccountAPI], Outcome], doc: str
) -> None:
    """Add `NAME [--account] [--deployments]` to ``group``: ``action`` signed by the account."""

    @group.command(name, cls=NodeCommand, help=doc)
    @common_options()
    def command(account: AccountAPI | None, deployments: Path) -> None:
        done(action(load_suite(deployments), resolve_signer(account)))


def amount_command(
    group: click.Group, name: str, action: Callable[[Suite, AccountAPI, int], Outcome], doc: str
) -> None:
    """Add `NAME AMOUNT [--account] [--deployments]` to ``group``: ``action`` of AMOUNT (a
    token amount like 100.5, in wei) signed by the account."""

    @group.command(name, help=doc, **AMOUNT_COMMAND)
    @click.argument("amount")
    @common_options()
    def command(amount: str, account: AccountAPI | None, deployments: Path) -> None:
        wei = parse_amount(amount)
        suite = load_suite(deployments)
        done(action(suite, resolve_signer(account), wei))


def status_command(
    group: click.Group,
    read: Callable[[Suite, str], Any],
    rows: Callable[[Any], Iterable[tuple[str, str]]],
    doc: str,
) -> None:
    """Add `status [ADDRESS] [--account] [--deployments]` to ``group``: what ``read`` finds of
    ADDRESS (default: the account), printed as ``rows``."""

    @group.command("status", cls=NodeCommand, help=doc)
    @click.argument("address", required=False)
    @common_options()
    def status(address: str | None, account: AccountAPI | None, deployments: Path) -> None:
        suite = load_suite(deployments)
        who = parse_address(address) if address else str(resolve_signer(account).address)
        print_rows(rows(read(suite, who)))


################################################################
#                          FORMATTING                          #
################################################################


def human(amount: int, places: int = 18) -> str:
    """Token amount without trailing zeros: 12.5, 100, 1,000.25 (exact by default)."""
    text = format_units(amount, 18, places)
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_duration(seconds: int) -> str:
    """A wait in its two largest units, rounded up, so waiting that long is always enough:
    "3 days 4 hours", "5 hours 1 minute", "42 seconds"."""
    if seconds <= 0:
        return "0 seconds"
    units = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))
    # The second unit shown sets the precision: round up to it.
    first = next(i for i, (_, size) in enumerate(units) if seconds >= size)
    step = units[min(first + 1, len(units) - 1)][1]
    rest = -(-seconds // step) * step
    parts = []
    for name, size in units:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    return " ".join(parts[:2])


def cooldown_started(
    token: str,
    amount: int,
    cooling: int,
    until: int,
    duration: int,
    already: int,
    then: str,
    more: str = "",
) -> str:
    """What starting an unstake of ``amount`` wei of ``token`` did: ``cooling`` wei now cool
    down until ``until`` (``duration`` seconds), then run the command ``then``; ``more`` follows
    that. ``already`` wei that were cooling joined it and restarted their timer."""
    message = (
        f"Started unstaking {human(amount)} {token}: {human(cooling)} {token} is cooling down "
        f"until {format_time(until)} ({format_duration(duration)}); then run `{then}`{more}"
    )
    if already:
        message += (
            f". The {human(already)} {token} already cooling joined this request and its timer "
            "restarted"
        )
    return message


def format_bps(bps: int) -> str:
    """Basis points as a percentage without trailing zeros: 50 -> "0.5%", 371 -> "3.71%"."""
    return f"{Decimal(bps) / 100:f}%"


def format_time(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


################################################################
#                            INPUTS                            #
################################################################


def parse_amount(text: str) -> int:
    """A positive VVV amount typed by a person ("100.5") in wei."""
    try:
        amount = parse_units(text)
    except AmountError as exc:
        raise UserError(f"bad amount: {exc}") from None
    if amount == 0:
        raise UserError(f"bad amount: '{text}' is zero; give a positive amount like 100 or 100.5")
    return amount


def parse_address(text: str) -> str:
    """An address typed by a person, checksummed (the SDK's one parser: a mixed-case address
    with a wrong EIP-55 checksum is refused; all-lowercase is accepted)."""
    try:
        address = sdk_parse_address(text)
    except AddressError as exc:
        raise UserError(str(exc)) from None
    if address == ZERO_ADDRESS:
        raise UserError("the zero address cannot hold tokens; give a real address")
    return address


def parse_slippage(text: str) -> int:
    """A slippage tolerance in percent ("0.5", "1%") as basis points (50, 100)."""
    raw = str(text).strip().removesuffix("%").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise UserError(
            f"bad slippage: '{text}' is not a number; give a percentage like 0.5 or 1"
        ) from None
    if not value.is_finite() or value < 0 or value > 100:
        raise UserError(f"bad slippage: '{text}' must be a percentage from 0 to 100, like 0.5")
    bps = value * 100
    if bps != bps.to_integral_value():
        raise UserError(
            f"bad slippage: '{text}' is finer than 0.01%; give at most two decimals, like 0.25"
        )
    return int(bps)


def parse_usdc(text: str, what: str = "amount") -> int:
    try:
        amount = parse_units(text, USDC_DECIMALS)
    except AmountError as exc:
        raise UserError(f"bad {what}: {exc}") from None
    return amount


################################################################
#                            CHECKS                            #
################################################################


def check_gas(account: AccountAPI) -> None:
    if int(account.balance) == 0:
        raise UserError(f"account {account.address} has no ETH to pay for gas; fund it first")
