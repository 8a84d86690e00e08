"""How probes run: the contract (``base``), what they read (``context``), the budget (``planner``),
event dispatch and hooks (``manager``), and the CPU packing helper (``packed``).

The probes themselves live one per file in :mod:`engine.training.probes`.
"""
