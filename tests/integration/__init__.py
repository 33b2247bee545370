"""Tests across contracts and tools: governance, the DEX, gas, the coverage collector."""
