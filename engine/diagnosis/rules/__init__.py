"""Diagnosis rules, one per file (see :mod:`engine.diagnosis.rules.base`)."""
