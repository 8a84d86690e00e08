"""Tuning: measurements that choose a recipe's settings before a run, rather than diagnose one after.

Torch-free, like ``engine.control``: the app and the CLI import these modules.
A module here may import the training side only inside the function that
trains (``tests/test_layering.py`` holds that line). ``lr_find`` holds the
learning-rate range test's result, its cache beside the run store and the
background job the dashboard starts; ``lr_find_cli`` is its command.
"""
