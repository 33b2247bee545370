"""What the `ape run` commands do, checked before any transaction; `common` is shared."""
