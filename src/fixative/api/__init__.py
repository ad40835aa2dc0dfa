"""The HTTP API: one blueprint per service, errors mapped to status codes in errors.py."""
