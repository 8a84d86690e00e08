"""Every size cap on user input, in one place (the README's "Limits and safety" lists them).

Each cap keeps one bad input from costing unbounded memory or time: a recipe
file, a ``--set`` override or a dashboard link is refused with one message
naming the cap, before anything is parsed further, stored or run.
"""

from __future__ import annotations

#: A recipe file, as text. The largest built-in recipe is about 4 KB.
MAX_RECIPE_BYTES = 256 * 1024
#: One ``--set KEY=VALUE`` (or one ``set=`` item of a dashboard link), as text.
MAX_OVERRIDE_CHARS = 4096
#: Overrides one command or link may carry.
MAX_OVERRIDES = 200
#: YAML nodes (keys, values, list items) after aliases are expanded. A recipe has a few hundred.
MAX_YAML_NODES = 10_000
#: How deeply YAML may nest, aliases included. A recipe nests about five levels.
MAX_YAML_DEPTH = 32
#: Runs one command (``compare``, a grid, a lesson) may queue: variants times seeds.
MAX_RUNS_PER_COMMAND = 256
#: Seeds one variant may be repeated at (``compare --seeds``).
MAX_SEEDS = 32
#: Cross-validation folds, and repeats of the whole k-fold split (``gradclinic cv``).
MAX_FOLDS = 20
MAX_REPEATS = 10
#: Networks in one ensemble (``gradclinic ensemble``).
MAX_MEMBERS = 32
#: Characters of a bad value quoted back in an error message.
EXCERPT_CHARS = 80
#: Lines of one error message (one per refused key); the rest are counted.
MAX_ERROR_LINES = 10
#: The free text of a recipe.
MAX_TITLE_CHARS = 200
MAX_LESSON_CHARS = 20_000
#: Variants in a recipe's ``compare:`` block, and questions in ``questions:``.
MAX_VARIANTS = 32
MAX_QUESTIONS = 20
#: What a person writes on a run (the Runs page, ``Store.set_tags``/``set_notes``): tags are
#: short words, a few to a run; a note is a line or two.
MAX_TAGS = 12
MAX_TAG_CHARS = 32
MAX_NOTE_CHARS = 2000
#: Slow motion: the longest wait between two steps, in ms. A 1,000-step run at the cap
#: takes about 17 minutes, which is as slow as a class will watch.
MAX_PACE_MS = 1000
