"""Diagnosis rules, one per file (see :mod:`engine.rules.base`)."""
