"""What a person writes on a run, checked before it is stored: its tags and its notes.

Torch-free. Tags are a few short words separated by commas (``baseline, he-init``);
notes are a line of free text. Both are bounded (:mod:`engine.config.limits`) and
refuse control characters (ESC, a newline, NUL), which would drive a terminal when
``gradclinic ls`` or ``show`` prints them. A refusal is one :class:`RecipeError`
naming the field and what to change. The stored form of tags is the one
:func:`check_tags` returns: the words in the order given, each once, joined by ", ".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from engine.config import limits
from engine.config.errors import RecipeError, excerpt

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1, as for run names
_WORD = re.compile(r"[\w.+#/-]+")  # letters and digits of any script, and - _ . + # /
TAG_SEPARATOR = ", "


def _refuse_control(field: str, text: str) -> None:
    found = _CONTROL.search(text)
    if found:
        raise RecipeError(
            f"{field}: control characters such as a newline, a tab or ESC cannot be stored "
            f"(found {found.group()!r} at character {found.start() + 1} of {excerpt(text)})"
        )


def check_tags(tags: str | Iterable[str] | None) -> str:
    """The stored form of ``tags`` (a comma-separated text or a list of words); "" for none.

    Refused: a control character, a tag that is not one word, a tag longer than
    :data:`~engine.config.limits.MAX_TAG_CHARS`, more than :data:`~engine.config.limits.MAX_TAGS` tags.
    """
    if tags is None:
        return ""
    text = tags if isinstance(tags, str) else ",".join(str(t) for t in tags)
    longest = limits.MAX_TAGS * (limits.MAX_TAG_CHARS + len(TAG_SEPARATOR))
    if len(text) > longest:  # before splitting: a pasted page costs nothing
        raise RecipeError(
            f"tags: {len(text):,} characters; a run takes at most {limits.MAX_TAGS} tags of at most "
            f"{limits.MAX_TAG_CHARS} characters each"
        )
    _refuse_control("tags", text)
    words = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    for word in words:
        if not _WORD.fullmatch(word):
            hint = f" or join its words ({'-'.join(word.split())!r})" if " " in word else ""
            raise RecipeError(
                f"tags: {excerpt(word)} is not one word; separate tags with commas{hint} "
                "(a tag holds letters, digits and - _ . + # /)"
            )
        if len(word) > limits.MAX_TAG_CHARS:
            raise RecipeError(
                f"tags: {excerpt(word)} has {len(word)} characters; a tag may have at most {limits.MAX_TAG_CHARS}"
            )
    if len(words) > limits.MAX_TAGS:
        raise RecipeError(f"tags: {len(words)} tags; a run takes at most {limits.MAX_TAGS}")
    return TAG_SEPARATOR.join(words)


def tag_list(stored: str | None) -> list[str]:
    """The tags of a stored ``tags`` value, as a list of words."""
    return [t.strip() for t in (stored or "").split(",") if t.strip()]


def check_notes(notes: str | None) -> str:
    """The stored form of ``notes`` (stripped); "" for none. Refused: a control character, past the cap."""
    if notes is None:
        return ""
    text = str(notes).strip()
    if len(text) > limits.MAX_NOTE_CHARS:
        raise RecipeError(f"notes: {len(text):,} characters; a run's notes may have at most {limits.MAX_NOTE_CHARS:,}")
    _refuse_control("notes", text)
    return text
