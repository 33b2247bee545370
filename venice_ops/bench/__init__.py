"""Benchmarks: gas, the credit ledgers, load; their setup and the one redis-server launcher."""
