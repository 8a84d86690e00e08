"""The run store: one SQLite file per home folder, holding runs, their metrics and findings.

Torch-free; the app and the CLI import it. :class:`Store` is the whole public
API. ``schema`` holds the DDL, ``connection`` opens a file safely, and
``migrations`` converts files written by older versions.
"""

from engine.store.connection import default_home
from engine.store.store import Store

__all__ = ["Store", "default_home"]
