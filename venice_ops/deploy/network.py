"""Whether the connected chain is a local development chain or a live network.

One rule for the deploy (a live network needs the timelock; `test:N` roles exist only
locally) and the faucet (local only), whichever way the node was named (`ethereum:local:node`,
`ethereum:local:http://127.0.0.1:8599`, or a bare `http://HOST:PORT`):

1. ape's own fork networks (`...-fork`) are local;
2. a live chain id (a public network's: ape's ecosystems know them, plus a few well-known
   L2s) is live, whatever the URI, so a loopback fork of Base mainnet is treated as live;
3. chain id 31337 (Anvil, Hardhat) or 1337 (ape's default, geth --dev) is local;
4. otherwise a node on the loopback interface (localhost, 127.0.0.0/8, ::1) is local, and
   any other node is live.

`DevNode` is the provider the commands use for a local network's own node
(`ethereum:local:node`, `ethereum:local:http://...`): ape's, which also works on Hardhat.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from ape import chain, networks
from ape.api import ProviderAPI
from ape_node.provider import GethDev

from venice_sdk.server.settings import is_loopback as is_loopback_host

__all__ = [
    "DEV_CHAIN_IDS",
    "DevNode",
    "is_live_chain_id",
    "is_local",
    "is_local_chain",
    "is_loopback",
    "provider_uri",
    "use_dev_node",
]

# Chain ids of the development nodes (Anvil, Hardhat; geth --dev) whose test accounts are public.
DEV_CHAIN_IDS = frozenset({31_337, 1_337})

# Public chains an installed ape plugin may not list: Ethereum, OP, BNB, Gnosis, Polygon,
# Base, Arbitrum and their test networks.
WELL_KNOWN_LIVE = frozenset(
    {1, 10, 56, 100, 137, 8_453, 42_161, 17_000, 84_532, 421_614, 11_155_111, 11_155_420}
)


def is_live_chain_id(chain_id: int) -> bool:
    """True for a public network's chain id (never for 31337 or 1337)."""
    if chain_id in DEV_CHAIN_IDS:
        return False
    if chain_id in WELL_KNOWN_LIVE:
        return True
    for ecosystem in networks.ecosystems.values():
        for name, network in ecosystem.networks.items():
            if name == "local" or name.endswith("-fork") or name == "custom":
                continue
            try:
                if network.chain_id == chain_id:
                    return True
            except Exception:  # a plugin network that cannot say without a connection
                continue
    return False


def provider_uri() -> str | None:
    """The connected node's HTTP(S)/WS URI, when the provider has one."""
    provider = chain.provider
    for attribute in ("http_uri", "uri", "ws_uri"):
        try:
            value = getattr(provider, attribute, None)
        except Exception:  # a property that needs a setting the provider lacks
            continue
        if isinstance(value, str) and "://" in value:
            return value
    return None


def node_started_here() -> bool:
    """Whether ape started the connected node for this command (no ``--network``: a
    throwaway Anvil, gone when the command ends), not one the user runs."""
    return getattr(chain.provider, "process", None) is not None


def is_loopback(uri: str | None) -> bool:
    """True for a URI whose host is localhost or a loopback address."""
    if not uri:
        return False
    return is_loopback_host(urlparse(uri).hostname or "")


def is_local(network: str, chain_id: int, uri: str | None) -> bool:
    """The module's rule: ape's network name, the node's chain id and its URI."""
    if network.endswith("-fork"):
        return True
    if is_live_chain_id(chain_id):
        return False
    if chain_id in DEV_CHAIN_IDS:
        return True
    return is_loopback(uri)


def is_local_chain() -> bool:
    """The module's rule, for the connected chain."""
    return is_local(chain.provider.network.name, chain.chain_id, provider_uri())


class DevNode(GethDev):
    """ape's provider for a local network's node, which also knows that Hardhat mines each
    transaction at once: ape asks only `eth_mining`, which Hardhat (automine, no interval)
    answers false, and then takes every transaction as unmined (a deploy "did not create a
    contract"). Asked in turn: `eth_mining` (geth --dev), `hardhat_getAutomine`,
    `anvil_getAutomine`."""

    @property
    def auto_mine(self) -> bool:
        if self.process is not None:
            return True
        for method in ("eth_mining", "hardhat_getAutomine", "anvil_getAutomine"):
            try:
                if self.make_request(method, []) is True:
                    return True
            except Exception:  # a method this node does not have
                continue
        return False

    @auto_mine.setter
    def auto_mine(self, value: bool) -> None:
        raise NotImplementedError("a node's automine is set on the node (its own config)")


def use_dev_node(provider: Any) -> Any:
    """`provider` itself, or a `DevNode` in place of ape's own provider for a local node."""
    if type(provider) is not GethDev or provider.process is not None:
        return provider
    node: ProviderAPI = DevNode(
        name=provider.name, network=provider.network, provider_settings=provider.provider_settings
    )
    return node
