"""Who may do what: API tokens (only their hash is stored), per-datastack permission levels and
per-table read/write permissions, decided per user on every request."""
