"""What a service said, in the words the bot would send: tests assert on those sentences.

Services return and raise ``Meaning`` values; ``bot.texts`` words them. These helpers word what
an error or result carries, so a test can check the very sentence a person would read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pytest

from bot import texts
from bot.services.meaning import Meaning


def worded(said: Meaning | Iterable[Meaning]) -> str:
    """The sentence (or the lines, one per problem) for what a service said."""
    if isinstance(said, Meaning):
        return texts.words(said)
    return "\n".join(texts.words(one) for one in said)


def error_words(error: BaseException) -> str:
    """The lines an error's problems (``problems`` or ``problem``) are worded as."""
    problems = getattr(error, "problems", None)
    if problems is None:
        problem = getattr(error, "problem", None)
        return str(error) if problem is None else worded(problem)
    return worded(problems)


@contextmanager
def raises_saying(kind: type[BaseException], pattern: str) -> Iterator[None]:
    """Like ``pytest.raises(kind, match=pattern)``, matched against the worded problems."""
    with pytest.raises(kind) as caught:
        yield
    text = error_words(caught.value)
    assert re.search(pattern, text), f"{pattern!r} not found in {text!r}"
