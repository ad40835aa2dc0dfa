"""Queries on versions and live at any instant: the spec, the SQL, the Arrow stream."""
