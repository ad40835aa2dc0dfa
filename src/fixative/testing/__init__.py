"""Test support shipped with the package: database fixtures, clocks, contract suites, oracles."""
