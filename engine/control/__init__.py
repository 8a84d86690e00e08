"""What the CLI and the app call, torch-free: launch and queue runs, compare groups, reports, export.

Training itself happens in worker processes (:mod:`engine.worker`), or in this
process for a lesson (:mod:`engine.control.lessons`, which imports the
training side only when it runs one).
"""
