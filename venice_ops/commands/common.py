"""What the command-line scripts share: the signing account, output, and user mistakes.

A user mistake (a bad amount, a missing manifest, a reverted transaction) is printed as one
`error: ...` line on stderr and exits with code 1, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
import requests
from ape import accounts, chain
from ape.api import AccountAPI
from ape.cli import ConnectedProviderCommand
from ape.exceptions import AccountsError, ProviderError, TransactionError, VirtualMachineError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from venice_ops.deploy.config import ConfigError
from venice_ops.deploy.suite import ManifestError
from venice_ops.deploy.tx import transact
from venice_ops.paths import DEPLOYMENTS
from venice_sdk.units import AmountError

# Chain ids of the development nodes (Anvil, Hardhat; geth --dev) whose test accounts
# are public: only there does a command sign with a default account.
DEV_CHAIN_IDS = frozenset({31_337, 1_337})

# soft_wrap: a message is never broken across lines, so it can be grepped and tested.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(RuntimeError):
    """A mistake the user can fix; the message says what was wrong and what to do."""


class TransactionReverted(UserError):
    """A transaction the checks let through but the contract refused."""


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


class NodeCommand(ConnectedProviderCommand):
    """ape's `ConnectedProviderCommand`, except that a node it cannot reach (not started yet,
    a typo in the URI) is reported in one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
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
