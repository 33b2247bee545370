"""Who is calling: wallet-bound API keys and Sign-In with Ethereum, for inference servers.

Three pieces, as in the real system (PROTOCOL.md, "Inference-server entitlements"):

- `WalletChallenges`: the server issues a short-lived challenge (15 minutes by default) for a
  wallet, the wallet signs its text with ``personal_sign`` (EIP-191), the server checks the
  signature and consumes the challenge exactly once.
- `SiweVerifier`: Sign-In with Ethereum (EIP-4361) for the dashboard, with single-use nonces
  from the same stores.
- `ApiKeyStore`: API keys issued only to wallets with staked VVV; only a hash of each key is
  stored, the plaintext is returned once. `RedisKeyStore` keeps them in Redis for a fleet
  (a key or a revocation is seen by every replica at once); both are a `KeyStore`.

Single-use state lives behind `ChallengeStore` (put / get / take, where ``take`` is an atomic
get-and-delete): `InMemoryChallengeStore` for one process, `SQLiteChallengeStore` for several
processes on one host, `RedisChallengeStore` for a fleet.

Every refusal raises `AuthError` with a machine-readable ``code`` (a `venice_sdk.errors.Reason`).
Keys and signatures are never put into error messages.

The parts: `common` (`AuthError`, address and signature checks), `stores`, `challenges`,
`siwe`, `keys`; import them all from here.
"""

from venice_sdk.auth.challenges import Challenge, WalletChallenges
from venice_sdk.auth.common import (
    CHALLENGE_TTL_SECONDS,
    AuthError,
    normalize_address,
    recover_signer,
)
from venice_sdk.auth.key_store import MAX_EXPIRES_AT, KeyStore, KeyStoreUnavailable
from venice_sdk.auth.keys import KEY_PREFIX, ApiKeyStore, IssuedKey, KeyRecord
from venice_sdk.auth.redis_keys import RedisKeyStore
from venice_sdk.auth.siwe import SiweVerifier
from venice_sdk.auth.stores import (
    ChallengeStore,
    InMemoryChallengeStore,
    RedisChallengeStore,
    RedisLike,
    SQLiteChallengeStore,
)
from venice_sdk.clock import Clock

__all__ = [
    "CHALLENGE_TTL_SECONDS",
    "KEY_PREFIX",
    "MAX_EXPIRES_AT",
    "ApiKeyStore",
    "AuthError",
    "Challenge",
    "ChallengeStore",
    "Clock",
    "InMemoryChallengeStore",
    "IssuedKey",
    "KeyRecord",
    "KeyStore",
    "KeyStoreUnavailable",
    "RedisChallengeStore",
    "RedisKeyStore",
    "RedisLike",
    "SQLiteChallengeStore",
    "SiweVerifier",
    "WalletChallenges",
    "normalize_address",
    "recover_signer",
]
