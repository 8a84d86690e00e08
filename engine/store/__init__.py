"""The run store: one SQLite file per home folder, holding runs, their metrics and findings.

Torch-free; the app and the CLI import it. :class:`Store` is the whole public
API. ``schema`` holds the DDL, ``connection`` opens a file safely,
``migrations`` converts files written by older versions, ``errors`` says what
busy, full or damaged means, and ``doctor`` checks a file and salvages its runs.
"""

from engine.store.connection import default_home
from engine.store.errors import StoreBusy, StoreDamaged, StoreFull
from engine.store.store import Store

__all__ = ["Store", "StoreBusy", "StoreDamaged", "StoreFull", "default_home"]
