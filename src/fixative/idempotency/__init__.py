"""Idempotent writes: a client that retries a write with the same ``Idempotency-Key`` gets the
first answer back instead of a second write (``once.run_once``)."""
