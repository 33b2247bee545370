"""Deploying the suite: the config, the deploy path and manifest, the DEX, airdrop trees."""
