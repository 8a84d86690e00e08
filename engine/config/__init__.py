"""What a run is made of, torch-free: the recipe schema, the registries' names, the errors.

The app validates a recipe with these before anything starts.
"""
