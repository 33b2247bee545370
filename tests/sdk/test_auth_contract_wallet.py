"""Sign-in from a smart-contract wallet (EIP-1271) is refused as `contract_wallet_unsupported`
when the verifier can read the chain (`get_code`, e.g. `web3.eth.get_code`), and as the
generic `bad_signature` when it cannot. No chain needed: `get_code` is a stub here.

    python -m pytest -p no:ape_test tests/sdk/test_auth_contract_wallet.py -q
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from siwe import SiweMessage

from venice_sdk.auth import (
    AuthError,
    InMemoryChallengeStore,
    SiweVerifier,
    WalletChallenges,
)
from venice_sdk.errors import Reason

T0 = 1_750_000_000.0
DOMAIN = "api.venice.test"
CHAIN = 8453
SAFE_CODE = bytes.fromhex("608060405273")  # any runtime code: a contract wallet
DELEGATED = bytes.fromhex("ef0100") + bytes(20)  # EIP-7702: an EOA whose key still signs


def _clock() -> float:
    return T0


def _sign(account: Any, text: str) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()


class CodeStub:
    """`eth_getCode` for one address (empty elsewhere), counting the reads."""

    def __init__(self, address: str, code: bytes) -> None:
        self.address, self.code, self.reads = address, code, 0

    def __call__(self, address: str) -> bytes:
        self.reads += 1
        return self.code if address.lower() == self.address.lower() else b""


def _refused(fn: Callable[..., Any], *args: Any) -> AuthError:
    with pytest.raises(AuthError) as info:
        fn(*args)
    return info.value


@pytest.fixture
def wallet() -> Any:
    """The address the user signs in as (a contract wallet when its code stub says so)."""
    return Account.create()


@pytest.fixture
def owner_key() -> Any:
    """The key behind a contract wallet: its signature is not the wallet's EOA signature."""
    return Account.create()


def _challenges(get_code: Callable[[str], bytes] | None) -> WalletChallenges:
    return WalletChallenges(DOMAIN, InMemoryChallengeStore(_clock), clock=_clock, get_code=get_code)


def test_challenge__contract_wallet__contract_wallet_unsupported(wallet, owner_key):
    code = CodeStub(wallet.address, SAFE_CODE)
    challenges = _challenges(code)
    text = challenges.issue_challenge(wallet.address).message
    error = _refused(challenges.verify_challenge, wallet.address, _sign(owner_key, text))
    assert error.code == Reason.CONTRACT_WALLET_UNSUPPORTED == "contract_wallet_unsupported"
    assert str(error) == (
        f"contract_wallet_unsupported: {wallet.address} is a contract wallet (EIP-1271), which"
        " cannot sign in here: sign with an externally owned account"
    )
    assert code.reads == 1
    # Not consumed: the same challenge still signs in the wallet's own key (were it an EOA).
    assert challenges.verify_challenge(wallet.address, _sign(wallet, text)) == wallet.address


@pytest.mark.parametrize("signature", ["0x" + "11" * 97, "0xzz"], ids=["long", "not-hex"])
def test_challenge__contract_wallet_signature_not_65_bytes__unsupported(wallet, signature):
    """EIP-1271 signatures (a Safe's several owners, EIP-6492 wrapping) are often not 65 bytes."""
    challenges = _challenges(CodeStub(wallet.address, SAFE_CODE))
    challenges.issue_challenge(wallet.address)
    error = _refused(challenges.verify_challenge, wallet.address, signature)
    assert error.code == Reason.CONTRACT_WALLET_UNSUPPORTED


@pytest.mark.parametrize(
    "get_code",
    [
        None,
        CodeStub("0x" + "00" * 20, SAFE_CODE),  # code elsewhere, none at the wallet
        lambda address: DELEGATED,
        lambda address: (_ for _ in ()).throw(ConnectionError("node down")),
    ],
    ids=["no-client", "eoa", "eip-7702-delegated", "node-unreachable"],
)
def test_challenge__bad_signature_otherwise(wallet, owner_key, get_code):
    challenges = _challenges(get_code)
    text = challenges.issue_challenge(wallet.address).message
    error = _refused(challenges.verify_challenge, wallet.address, _sign(owner_key, text))
    assert error.code == Reason.BAD_SIGNATURE
    assert (
        error.message == f"the signature is not {wallet.address}'s over the issued challenge text"
    )


def test_challenge__good_signature__code_never_read(wallet):
    code = CodeStub(wallet.address, SAFE_CODE)
    challenges = _challenges(code)
    text = challenges.issue_challenge(wallet.address).message
    assert challenges.verify_challenge(wallet.address, _sign(wallet, text)) == wallet.address
    assert code.reads == 0


def _siwe_text(address: str, nonce: str) -> str:
    issued = datetime.fromtimestamp(T0, UTC).isoformat(timespec="milliseconds")
    text: str = SiweMessage(
        domain=DOMAIN,
        address=address,
        uri="https://api.venice.test/login",
        version="1",
        chain_id=CHAIN,
        issued_at=issued.replace("+00:00", "Z"),
        nonce=nonce,
    ).prepare_message()
    return text


@pytest.mark.parametrize(
    ("code", "reason"),
    [(SAFE_CODE, Reason.CONTRACT_WALLET_UNSUPPORTED), (b"", Reason.BAD_SIGNATURE)],
    ids=["contract-wallet", "eoa"],
)
def test_siwe__contract_wallet__unsupported(wallet, owner_key, code, reason):
    verifier = SiweVerifier(
        DOMAIN,
        chain_id=CHAIN,
        store=InMemoryChallengeStore(_clock),
        clock=_clock,
        get_code=CodeStub(wallet.address, code),
    )
    text = _siwe_text(wallet.address, verifier.nonce())
    assert _refused(verifier.verify, text, _sign(owner_key, text)).code == reason
    # The nonce is not consumed by a refusal.
    assert verifier.verify(text, _sign(wallet, text)) == wallet.address


def test_siwe__no_client__bad_signature(wallet, owner_key):
    verifier = SiweVerifier(
        DOMAIN, chain_id=CHAIN, store=InMemoryChallengeStore(_clock), clock=_clock
    )
    text = _siwe_text(wallet.address, verifier.nonce())
    assert _refused(verifier.verify, text, _sign(owner_key, text)).code == Reason.BAD_SIGNATURE
