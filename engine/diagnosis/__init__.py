"""Naming what goes wrong, torch-free: a run's stored metrics in, findings with remedies out.

``metrics`` reads a stored run into plain tables, ``rules/`` holds one rule per
finding code, ``remedies`` the overrides they suggest, ``diagnose`` runs them.
"""
