"""The project's tooling, as an installed, type-checked package (the SDK is `venice_sdk`).

- `deploy/`: the deploy config, the one deploy path and its manifest, the DEX, airdrop trees,
  the shipped ABIs, transactions with gas headroom.
- `commands/`: what the `ape run` commands do (staker, diem, subscribe, keeper, airdrop), with
  one parsing and formatting module and one decorator for the common options and errors.
- `sim/`: the token-economy simulator, on the model or on the contracts.
- `bench/`: the gas, ledger and load benchmarks, their setup, and the one redis-server launcher.
- `bridge.py`: a deployment or a deploy config as a `venice_sdk.model` system.
- `rpc.py`: fast raw web3 / JSON-RPC reads and sends against a development node.
- `paths.py`: the project's folders.

`scripts/*.py` are thin `ape run` entry points over this package.
"""
