"""The rendering floor: every sentence a person reads, and ``words`` for what services say.

Services return and raise ``Meaning`` values (a ``Kind`` and its values); ``words`` calls the
function of this package named by the kind. The sentences live in one module per journey:
``answers`` (how to answer, re-asks, definition problems, alert rules), ``patient`` (joining,
prompts, the check-in), ``therapist_commands`` (menus, help, groups, invites, patients,
therapists, the one-line task form), ``therapist_dialogue`` (the /newtask and /edittask steps,
reviews, reports), ``governance`` (the audit trail), ``teams`` (care teams), ``patientpage``
(/patient and /media), ``fhir`` and ``operations`` (command line, deployment, playground,
faults).
Texts sent with ``parse_mode=HTML`` escape what a person typed with ``html.escape``.
"""

from __future__ import annotations

from html import escape, unescape
from typing import TYPE_CHECKING

from bot.services.meaning import Meaning

# Every sentence is reached as ``texts.name`` whichever room it lives in, and ``words`` finds a
# kind's function by name in this namespace: so each room's public functions are gathered here.
from bot.texts.answers import *  # noqa: F403
from bot.texts.consent import *  # noqa: F403
from bot.texts.fhir import *  # noqa: F403
from bot.texts.governance import *  # noqa: F403
from bot.texts.language import content as content
from bot.texts.language import content_language as content_language
from bot.texts.operations import *  # noqa: F403
from bot.texts.patient import *  # noqa: F403
from bot.texts.patientpage import *  # noqa: F403
from bot.texts.schedule import *  # noqa: F403
from bot.texts.seed import *  # noqa: F403
from bot.texts.teams import *  # noqa: F403
from bot.texts.therapist_commands import *  # noqa: F403
from bot.texts.therapist_dialogue import *  # noqa: F403

if TYPE_CHECKING:
    from bot.services.seeding import SeedProblem


def words(said: Meaning, *, playground: bool = False) -> str:
    """Word what a service said: the function named by its kind, given its values.

    A value that is itself a ``Meaning`` is worded first (a problem inside a line's frame).
    In the playground, a sentence that names Telegram's own controls names the page's.
    """
    name = said.kind.value
    wording = globals()[f"playground_{name}" if playground and name in _PAGE_WORDED else name]
    values = {
        key: words(v, playground=playground) if isinstance(v, Meaning) else v
        for key, v in said.values
    }
    text: str = wording(**values)
    return text


# Kinds whose sentence tells where to tap in Telegram; ``playground_<kind>`` words the page's.
_PAGE_WORDED = frozenset({"hint_photo", "hint_video"})


def seed_problem(problem: SeedProblem) -> str:
    """One line of a rejected seed file: file, table path and key, and what is wrong."""
    what = words(problem.what)
    where = f"{problem.file}: {problem.place}: " if problem.place else f"{problem.file}: "
    # The shared rule problems are worded for Telegram's HTML; this line goes to a terminal.
    return where + unescape(what)


def rule_problem(reason: str) -> str:
    """A due time, repeat or rule that cannot be used, worded by ``texts.schedule``, for HTML."""
    return escape(reason)
