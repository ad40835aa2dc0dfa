"""Fixative: a materialization engine for connectome annotations."""

__version__ = "0.1.0"
