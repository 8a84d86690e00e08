"""Every lesson recipe is complete: short text of its own, questions, variants that validate."""

import re

import pytest

from engine.config.recipe import load_recipe
from engine.control.lessons import lesson_names

MINE = [
    "vanishing-sigmoid",
    "exploding-residual",
    "exploding-rnn",
    "long-range-memory",
    "overfitting-small-data",
    "lr-schedules",
    "batch-norm",
    "optimizers",
    "batch-size-lr",
    "model-capacity",
    "crnn-moving-digits",
]


def test_the_lessons_are_discovered():
    assert set(MINE) <= set(lesson_names())


@pytest.mark.parametrize("name", MINE)
def test_lesson_text_is_short_with_one_reference_and_questions(name):
    r = load_recipe(name)
    assert r.is_lesson and r.title
    assert len(r.lesson.split()) < 150, len(r.lesson.split())
    assert len(re.findall(r"\((?:19|20)\d\d\)", r.lesson)) <= 1
    assert 1 <= len(r.questions) <= 2
    labels = [v.label for v in r.compare]
    assert len(labels) == len(set(labels)) and "baseline" not in labels
