"""The token-economy simulator: scenarios, agents, the engine, the model and chain backends."""
