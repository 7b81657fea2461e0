"""Thousands of random updates through the real Application: nothing breaks, nobody else changes.

Each hypothesis example starts from the same rows (the demo seeded, four patients joined with
/start SHOULDER1 and /start HIP1, one of them in both groups) with a new Application, moves the
clock to 18:01 and runs the due scan, so prompts are live. It then plays 40-80 random actions
through ``Application.process_update`` by those patients, the configured therapist, a stranger
and people the bot has never seen: texts of any alphabet and length (emoji, right-to-left,
control characters, 4096+ characters), every registered command with odd arguments, real,
truncated and forged button presses (other patients' deliveries included), photos, stickers,
voice notes, documents and other media, edits, group and channel posts, blocking the bot, the
clock moving with due scans in between, and sensible next steps (answer the question asked,
walk the /newtask dialogue) so that check-ins and dialogues really move.

After every single update it checks what a person or a clinic would notice:

- no exception reached the error handler, nothing was logged at ERROR, no apology was sent;
- the fake Bot API saw no invalid request, and every press was answered exactly once;
- a private update got at most a few messages in its own chat, and messages elsewhere only as
  alerts to therapists; a group or channel post got nothing at all and changed nothing;
- every stored answer is one its question's type accepts, for that task's question;
- no row of anyone else changed, and non-therapists changed no therapist data.

``PATIENTBOT_FUZZ_EXAMPLES`` sets the number of examples per backend (default 60, about 3,200
updates); ``PATIENTBOT_FUZZ_RANDOM=1`` draws new examples instead of the same fixed sequence
(``--hypothesis-seed=N`` replays a random run), ``PATIENTBOT_FUZZ_SHRINK=0`` skips shrinking.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection

from bot import texts
from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.services.meaning import Kind
from bot.services.responses import (
    Accepted,
    QuestionRules,
    Rejected,
    Reply,
    ResponseType,
    button_tokens,
    format_number,
    parse_number,
    parse_reply,
)
from fakebotapi import FakeBotApi
from storage.db import Database
from tests.conftest import START
from tests.fakes.harness import Harness, patient, therapist
from tests.fakes.logs import ErrorRecorder, recording_errors
from tests.fakes.snapshots import (
    PERSON_TABLES,
    THERAPIST_TABLES,
    Rows,
    open_questions,
    read_rows,
    restore,
    rows_by_person,
    state_tables,
)
from tests.fakes.updates import JSON, User
from tests.flows.test_therapist_access import registered_commands

EXAMPLES = int(os.environ.get("PATIENTBOT_FUZZ_EXAMPLES", "60"))
RANDOM = os.environ.get("PATIENTBOT_FUZZ_RANDOM", "") not in ("", "0")
# Shrinking a failure of 80 actions can take minutes; PATIENTBOT_FUZZ_SHRINK=0 reports it as found.
PHASES = (
    [Phase.explicit, Phase.reuse, Phase.generate]
    if os.environ.get("PATIENTBOT_FUZZ_SHRINK") == "0"
    else list(Phase)
)
SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto", "sendVideo"})
# Own-chat messages one update may cause: the edited question plus a summary plus the next
# prompt is the most a patient's step sends (edits are not new messages).
PATIENT_BUDGET = 3
STRANGER = User(id=4242, first_name="Stranger", last_name="Danger")
# Everything the therapist owns; a patient or a stranger must never change a row of these.

# --- the cast -------------------------------------------------------------------------------

ALICE, BOB, CHLOE, DEV = patient(0), patient(1), patient(2), patient(3)
THEO = therapist()
# Who joins which demo group before the actions start.
JOINS: tuple[tuple[User, str], ...] = (
    (ALICE, "SHOULDER1"),
    (BOB, "SHOULDER1"),
    (CHLOE, "HIP1"),
    (DEV, "SHOULDER1"),
    (DEV, "HIP1"),
)
CAST: tuple[User, ...] = (ALICE, BOB, CHLOE, DEV, THEO, STRANGER)
# Patients act most, so check-ins really move; the therapist and the stranger now and then.
CAST_WEIGHTS = (0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 5)


# --- random input -------------------------------------------------------------------------

ANY_CHAR = st.characters(exclude_categories=("Cs",))  # Telegram sends valid UTF-8 only
CURATED = [
    "",
    " ",
    "yes",
    "No.",
    "👍🏽",
    "👎",
    "7",
    "7/10",
    "-0",
    "0,5",
    "1e400",
    "nan",
    "inf",
    "١٢",  # Arabic-Indic digits
    "９",  # full-width nine
    "99999999999999999999999999999999999999999",
    "Left",
    "both the same",
    "3)",
    "مرحبا بالعالم",  # right-to-left
    "\u202eevil\u202c",  # right-to-left override
    "a\x00b\x1b[31mred\x7f",
    "\u200b\u200d\ufeff",
    "<b>bold</b> &amp; <script>alert(1)</script>",
    "</i><a href='javascript:x'>",
    "line one\nline two\r\nline three\ttab",
    "zebra crossing 4711",
    "/",
    "//start",
    "@patientbot_test_bot",
    "SHOULDER1",
    "shoulder1",
    "Europe/Berlin",
    "Mars/Olympus_Mons",
]
SHORT_TEXT = st.one_of(
    st.sampled_from(CURATED),
    st.text(ANY_CHAR, max_size=40),
    st.text(st.sampled_from("0123456789.,-+/ "), min_size=1, max_size=8),
)
LONG_TEXT = st.builds(
    lambda unit, size: (unit or "x") * (size // max(1, len(unit or "x")) + 1),
    st.text(ANY_CHAR, min_size=1, max_size=5),
    st.integers(1000, 5000),
).map(lambda text: text[:5000])
TEXT = st.one_of(SHORT_TEXT, SHORT_TEXT, SHORT_TEXT, LONG_TEXT)
ARGUMENT = st.one_of(
    st.sampled_from(
        [
            "1",
            "2",
            "0",
            "-1",
            "#1",
            "99999999999999999999",
            "2147483648",
            "9001",
            "101",
            "4242",
            "Shoulder Therapy 1",
            "Hip Therapy 1",
            "Shoulder",
            "SHOULDER1",
            "HIP1",
            "hip1",
            "x" * 65,
            "task",
            "group",
            "Shoulder Therapy 1 | Evil | tomorrow 10:00 | daily | Ok? ; yes_no",
            "Hip Therapy 1 | Tiny | today 23:59 | once | Pain? ; scale ; >= 8",
            "Europe/Berlin",
            "UTC",
        ]
    ),
    st.text(ANY_CHAR, max_size=20),
    st.text(ANY_CHAR, max_size=20),
    LONG_TEXT.map(lambda text: text[:4000]),
)
NAME = st.text(ANY_CHAR, min_size=1, max_size=64).filter(lambda s: s.strip() != "")
NEWCOMER = st.builds(
    User,
    id=st.integers(10**6, 2**52),
    first_name=NAME,
    last_name=st.one_of(st.none(), NAME),
    language_code=st.sampled_from([None, "en", "pt-br", "zh-hans", "x" * 20]),
)
CALLBACK_PREFIXES = [
    "p",
    "a",
    "s",
    "tz",
    "stop",
    "del",
    "td",
    "tp",
    "te",
    "tg",
    "tr",
    "tn",
    "tt",
    "tl",
    "tb",
    "ti",
    "tq",
    "ta",
    "tm",
    "tv",
]
FORGERIES = [
    "answer_other",  # a:<someone else's delivery>:<its question>:<token>
    "prompt_other",  # p:<someone else's delivery>:start|later|skip
    "skip_other",  # s:<someone else's delivery>:<its question>
    "foreign_question",  # a:<own delivery>:<a question of another task>:<token>
    "truncated",  # a real button's data, cut short
    "admin",  # a therapist button with ids that exist
    "random",  # anything at all
    "prefix",  # a known prefix with random parts
    "odd_numbers",  # a known prefix with zero, negative, huge or non-ASCII numbers
    "no_data",  # a game button: no data at all
]
MEDIA = [
    "photo",
    "photo_caption",
    "video",
    "sticker",
    "voice",
    "document",
    "image_document",
    "animation",
    "video_note",
    "audio",
    "location",
    "contact",
    "dice",
    "poll",
]


# What a therapist types into the /newtask and /edittask dialogues, right or wrong for the step.
DIALOGUE_REPLIES = [
    "Evening stretch",
    "tomorrow 10:00",
    "today 23:59",
    "2026-12-01 07:30",
    "yesterday 10:00",
    "mon,wed,fri x6",
    "daily",
    "3",
    "400",
    "2026-12-31",
    "How did it go?",
    "https://example.org/video",
    "not a link",
    "0-10",
    "1-5",
    "5-1",
    "Left, Right, Both",
    "Only one",
    ">= 8",
    "== no",
    "max 200",
]
ADMIN_STEPS = [
    "newtask",
    "newtask",
    "edittask {task}",
    "edittask {task}",
    "task {task}",
    "preview {task}",
    "deletetask {task}",
    "tasks",
    "report Shoulder Therapy 1",
    "report #{task}",
    "export",
    "export Hip Therapy 1",
    "groups",
    "patients Hip Therapy 1",
    "invite Hip Therapy 1 3 2",
    "revoke SHOULDER1",
    "newgroup Knees Europe/Berlin",
    "addtask Hip Therapy 1 | Balance | tomorrow 09:00 | daily | Steady? ; yes_no ; == no",
    "addtask Shoulder Therapy 1 | Weigh-in | today 18:05 | once | Your weight? ; number",
    "removepatient Shoulder Therapy 1 | Bob Test",
    "addtherapist 103",
    "removetherapist 103",
    "cancel",
]


class Compact:
    """Shows long texts shortened: a falsifying example of 5,000-character texts stays readable."""

    def __repr__(self) -> str:
        def short(value: Any) -> Any:
            if isinstance(value, str) and len(value) > 60:
                return f"{value[:40]}…({len(value)} characters)"
            return value

        shown = ", ".join(f"{f.name}={short(getattr(self, f.name))!r}" for f in fields(self))
        return f"{type(self).__name__}({shown})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints examples with its own pretty-printer, which asks for this first.
        printer.text(repr(self))


@dataclass(frozen=True, repr=False)
class Say(Compact):
    who: int
    text: str


@dataclass(frozen=True, repr=False)
class Command(Compact):
    who: int
    command: str
    args: tuple[str, ...]


@dataclass(frozen=True, repr=False)
class Press(Compact):
    """A real button on a message the bot sent to this person (picked by number)."""

    who: int
    message: int
    button: int


@dataclass(frozen=True, repr=False)
class Forge(Compact):
    who: int
    how: str
    pick: int
    extra: str
    on_real_message: bool


@dataclass(frozen=True, repr=False)
class Media(Compact):
    who: int
    kind: str


@dataclass(frozen=True, repr=False)
class Edit(Compact):
    who: int
    text: str
    back: int


@dataclass(frozen=True, repr=False)
class Newcomer(Compact):
    user: User
    text: str
    as_command: bool


@dataclass(frozen=True, repr=False)
class GroupPost(Compact):
    who: int
    text: str
    supergroup: bool


@dataclass(frozen=True, repr=False)
class ChannelPost(Compact):
    text: str


@dataclass(frozen=True, repr=False)
class Blocks(Compact):
    who: int
    blocked: bool


@dataclass(frozen=True, repr=False)
class Tick(Compact):
    minutes: int


@dataclass(frozen=True, repr=False)
class Walk(Compact):
    """The sensible next step: start an open check-in, or answer its question validly."""

    who: int
    pick: int
    text: str


Action = (
    Say | Command | Press | Forge | Media | Edit | Newcomer | GroupPost | ChannelPost | Blocks
) | (Tick | Walk)


def actions(commands: list[str]) -> st.SearchStrategy[Action]:
    who = st.sampled_from(CAST_WEIGHTS)
    walker = st.sampled_from(CAST_WEIGHTS[:9])
    command_name = st.one_of(
        st.sampled_from(commands),
        st.sampled_from(commands).map(lambda c: f"{c}@patientbot_test_bot"),
        st.sampled_from(commands).map(str.upper),
        st.sampled_from(["frobnicate", "start@other_bot", "tasks@other_bot", "x" * 40]),
    )
    arguments = st.lists(ARGUMENT, max_size=4).map(tuple)
    some_action: Any = st.one_of(
        st.builds(Walk, st.just(CAST.index(THEO)), st.integers(0, 1000), TEXT),
        st.builds(Walk, st.just(CAST.index(THEO)), st.integers(0, 1000), TEXT),
        st.builds(Walk, walker, st.integers(0, 1000), TEXT),
        st.builds(Walk, walker, st.integers(0, 1000), TEXT),
        st.builds(Walk, walker, st.integers(0, 1000), TEXT),
        st.builds(Walk, walker, st.integers(0, 1000), TEXT),
        st.builds(Say, who, TEXT),
        st.builds(Say, who, TEXT),
        st.builds(Command, who, command_name, arguments),
        st.builds(Press, who, st.integers(0, 50), st.integers(0, 50)),
        st.builds(Press, who, st.integers(0, 50), st.integers(0, 50)),
        st.builds(Press, who, st.integers(0, 50), st.integers(0, 50)),
        st.builds(
            Forge,
            who,
            st.sampled_from(FORGERIES),
            st.integers(0, 1000),
            st.text(ANY_CHAR, max_size=70),
            st.booleans(),
        ),
        st.builds(Media, who, st.sampled_from(MEDIA)),
        st.builds(Edit, who, TEXT, st.integers(0, 5)),
        st.builds(Newcomer, NEWCOMER, TEXT, st.booleans()),
        st.builds(GroupPost, who, st.one_of(TEXT, command_name.map(lambda c: f"/{c}"))),
        st.builds(ChannelPost, st.one_of(TEXT, command_name.map(lambda c: f"/{c}"))),
        st.builds(Blocks, who, st.booleans()),
        st.builds(
            Tick, st.one_of(st.sampled_from([1, 5, 61, 121, 600, 1440]), st.integers(1, 3000))
        ),
    )
    return some_action  # type: ignore[no-any-return]


# --- the database as rows -----------------------------------------------------------------


def glance(connection: Connection) -> Rows:
    """``read_rows`` as the driver returns them, read after every update, so kept quick.

    Glances are only compared with each other (instants stay text). PostgreSQL answers them in
    one round trip of JSON instead of one query per table, on a connection kept open: reading
    was a third of the fuzz's time otherwise. Rows come in key order on both backends, so an
    example picks the same rows on both and plays the same way.
    """
    tables = state_tables()
    order = {t.name: ", ".join(f'"{c.name}"' for c in t.primary_key.columns) for t in tables}
    try:
        if connection.dialect.name == "sqlite":
            raw = {
                t.name: [
                    dict(r)
                    for r in connection.exec_driver_sql(
                        f'SELECT * FROM "{t.name}" ORDER BY {order[t.name]}'
                    ).mappings()
                ]
                for t in tables
            }
        else:
            parts = ", ".join(
                f"'{t.name}', COALESCE((SELECT json_agg(r ORDER BY {order[t.name]}) "
                f"FROM \"{t.name}\" r), '[]'::json)"
                for t in tables
            )
            raw = connection.exec_driver_sql(f"SELECT json_build_object({parts})").scalar_one()
    finally:
        connection.rollback()  # the next glance must see what was committed since
    found: Rows = {}
    for table in tables:
        key = [c.name for c in table.primary_key.columns]
        found[table.name] = {tuple(r[k] for k in key): r for r in raw[table.name]}
    for question in found.get("questions", {}).values():
        if isinstance(question["options"], str):  # SQLite hands JSON columns over as text
            question["options"] = json.loads(question["options"])
    return found


def person_of(rows: Rows, telegram_user_id: int) -> int | None:
    for person in rows["people"].values():
        if person["telegram_user_id"] == telegram_user_id:
            return int(person["id"])
    return None


def removed_now(before: Rows, after: Rows) -> set[int]:
    """The chats of the patients an update took out of a group."""
    removed = {
        m["person_id"]
        for key, m in after["memberships"].items()
        if m["role"] == "removed" and before["memberships"].get(key, {}).get("role") != "removed"
    }
    return {
        int(p["chat_id"])
        for p in after["people"].values()
        if p["id"] in removed and p["chat_id"] is not None
    }


def invites_without_uses(rows: Rows) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {k: {c: v for c, v in r.items() if c != "uses"} for k, r in rows["invites"].items()}


def rules_of(question: dict[str, Any]) -> QuestionRules:
    return QuestionRules(
        response_type=question["response_type"],
        options=tuple(question["options"] or ()),
        min_value=question["min_value"],
        max_value=question["max_value"],
        integer_only=question["integer_only"],
        max_length=question["max_length"],
        required=question["required"],
    )


def answer_problems(answer: dict[str, Any], rows: Rows) -> list[str]:
    """Why a stored answer is not one its question accepts (empty when it is)."""
    question = rows["questions"].get((answer["question_id"],))
    delivery = rows["deliveries"].get((answer["delivery_id"],))
    if question is None or delivery is None:
        return ["the answer points at no question or delivery"]
    problems = []
    if question["task_id"] != delivery["task_id"]:
        problems.append("the question belongs to another task than the delivery")
    rules = rules_of(question)
    kind = rules.response_type
    text, number, boolean = answer["value_text"], answer["value_number"], answer["value_bool"]
    if answer["skipped"]:
        if rules.required:
            problems.append("a required question was skipped")
        if text or number is not None or boolean is not None or answer["file_id"]:
            problems.append("a skipped answer carries a value")
        return problems
    if kind in (ResponseType.TEXT, ResponseType.NUMBER, ResponseType.SCALE, ResponseType.CHOICE):
        # What was stored must read back as itself: the display is the normalised answer.
        again = parse_reply(rules, Reply(kind="text", text=text))
        if not isinstance(again, Accepted) or again.display != text:
            problems.append(f"{kind} answer {text!r} does not parse as itself: {again}")
        elif again.number != number:
            problems.append(f"{kind} answer {text!r} stored the number {number}")
    if kind == ResponseType.TEXT:
        if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
            problems.append("a text answer kept control characters")
        if text != text.strip() or len(text) > rules.text_limit():
            problems.append("a text answer is unstripped or too long")
    if kind in (ResponseType.NUMBER, ResponseType.SCALE) and (
        number is None or not math.isfinite(number) or text != format_number(number)
    ):
        problems.append(f"a {kind} answer stored {number!r} as {text!r}")
    if kind == ResponseType.SCALE and number is not None:
        lo, hi = rules.scale_bounds()
        if not (float(number).is_integer() and lo <= number <= hi):
            problems.append(f"a scale answer {number} is outside {lo}-{hi}")
    if kind == ResponseType.CHOICE and text not in rules.options:
        problems.append(f"a choice answer {text!r} is not an option")
    if kind == ResponseType.YES_NO:
        expected = {True: texts.label_yes(), False: texts.label_no()}
        if boolean is None or text != expected[bool(boolean)]:
            problems.append(f"a yes/no answer stored {boolean!r} as {text!r}")
    if kind in (ResponseType.PHOTO, ResponseType.VIDEO):
        if not answer["file_id"] or number is not None or boolean is not None:
            problems.append(f"a {kind} answer has no file or carries other values")
    elif answer["file_id"]:
        problems.append(f"a {kind} answer carries a file")
    if kind not in (ResponseType.NUMBER, ResponseType.SCALE) and number is not None:
        problems.append(f"a {kind} answer carries a number")
    if kind != ResponseType.YES_NO and boolean is not None:
        problems.append(f"a {kind} answer carries a yes/no")
    return problems


# --- one world per example ----------------------------------------------------------------


@dataclass
class Tally:
    updates: int = 0
    examples: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    answers_stored: int = 0


class World:
    """One Application on the demo data; plays actions and checks every update."""

    def __init__(self, h: Harness, errors: list[BaseException], log: ErrorRecorder) -> None:
        self.h = h
        self.errors = errors
        self.log = log
        self.reader = h.database.engine.connect()
        self.rows = glance(self.reader)
        self.own_messages: dict[int, list[int]] = {}
        self.updates = 0
        self.sequence = itertools.count(1)

    # --- building updates -------------------------------------------------------------------

    def user(self, index: int) -> User:
        return CAST[index]

    def bot_messages(self, user: User) -> list[Any]:
        return self.h.api.messages(user.chat_id)

    def private(self, user: User, content: JSON) -> JSON:
        update = self.h.updates._private(user, content)
        self.own_messages.setdefault(user.id, []).append(update["message"]["message_id"])
        return update

    def command_update(self, user: User, command: str, args: tuple[str, ...]) -> JSON:
        update = self.h.updates.command(user, f"/{command}", *args)
        self.own_messages.setdefault(user.id, []).append(update["message"]["message_id"])
        return update

    def callback(self, user: User, data: str | None, message: JSON | None) -> JSON:
        """A press as Telegram sends it; without a message it is one too old to be shown."""
        if message is None:
            message = {"chat": user.private_chat(), "message_id": 1, "date": 0}
        query: JSON = {
            "id": f"{user.id}-{next(self.sequence)}",
            "from": user.to_dict(),
            "chat_instance": f"ci-{user.chat_id}",
            "message": message,
        }
        if data is None:
            query["game_short_name"] = "game"
        else:
            query["data"] = data
        return {"update_id": self.next_update_id(), "callback_query": query}

    def next_update_id(self) -> int:
        return next(self.h.updates._update_ids)

    def pressable(self, user: User) -> list[Any]:
        return [m for m in self.bot_messages(user) if m.buttons]

    def message_for(self, user: User, pick: int, real: bool) -> JSON | None:
        messages = self.bot_messages(user)
        if not real or not messages:
            return None
        chosen = messages[pick % len(messages)]
        return self.h.api.message_json(user.chat_id, chosen.message_id)

    def media(self, user: User, kind: str) -> JSON:
        seq = next(self.sequence)
        file: JSON = {"file_id": f"{kind}-{seq}", "file_unique_id": f"u-{kind}-{seq}"}
        if kind in ("photo", "photo_caption"):
            content: JSON = {"photo": [{**file, "width": 800, "height": 600}]}
            if kind == "photo_caption":
                content["caption"] = "my <b>form</b> today 7/10"
            return self.private(user, content)
        if kind == "video":
            return self.h.updates.video(user, file["file_id"])
        if kind == "sticker":
            return self.h.updates.sticker(user)
        if kind == "voice":
            return self.h.updates.voice(user)
        if kind == "document":
            return self.h.updates.document(user)
        if kind == "image_document":
            return self.h.updates.document(user, "form.jpg", "image/jpeg")
        if kind == "animation":
            animation = {**file, "width": 320, "height": 240, "duration": 3}
            return self.private(
                user, {"animation": animation, "document": {**file, "mime_type": "video/mp4"}}
            )
        if kind == "video_note":
            return self.private(user, {"video_note": {**file, "length": 240, "duration": 5}})
        if kind == "audio":
            return self.private(user, {"audio": {**file, "duration": 60}})
        if kind == "location":
            return self.private(user, {"location": {"latitude": 51.5, "longitude": -0.12}})
        if kind == "contact":
            contact = {"phone_number": "+441234567890", "first_name": "Mum"}
            return self.private(user, {"contact": contact})
        if kind == "dice":
            return self.private(user, {"dice": {"emoji": "🎲", "value": 4}})
        poll = {
            "id": f"poll-{seq}",
            "question": "Pain?",
            "options": [
                {"persistent_id": "a", "text": "a", "voter_count": 0},
                {"persistent_id": "b", "text": "b", "voter_count": 0},
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
        return self.private(user, {"poll": poll})

    def forged_data(self, user: User, how: str, pick: int, extra: str) -> str | None:
        rows = self.rows
        me = person_of(rows, user.id)
        deliveries = sorted(rows["deliveries"].values(), key=lambda d: d["id"])
        others = [d for d in deliveries if d["person_id"] != me] or deliveries
        questions = sorted(rows["questions"].values(), key=lambda q: q["id"])
        tasks = sorted(rows["tasks"].values(), key=lambda t: t["id"])

        def first_question(delivery: dict[str, Any]) -> dict[str, Any] | None:
            own = [q for q in questions if q["task_id"] == delivery["task_id"]]
            if not own:
                return None
            asked = open_questions(rows, delivery)
            return asked[0] if asked else own[pick % len(own)]

        def token(question: dict[str, Any]) -> str:
            tokens = [t for _, t in button_tokens(rules_of(question))] or ["y"]
            return tokens[pick % len(tokens)]

        if how in ("answer_other", "prompt_other", "skip_other") and others:
            delivery = others[pick % len(others)]
            question = first_question(delivery)
            if how == "prompt_other":
                return f"p:{delivery['id']}:{('start', 'later', 'skip')[pick % 3]}"
            if question is None:
                return f"p:{delivery['id']}:start"
            if how == "skip_other":
                return f"s:{delivery['id']}:{question['id']}"
            return f"a:{delivery['id']}:{question['id']}:{token(question)}"
        if how == "foreign_question":
            mine = [d for d in deliveries if d["person_id"] == me]
            if mine and questions:
                delivery = mine[pick % len(mine)]
                foreign = [q for q in questions if q["task_id"] != delivery["task_id"]]
                if foreign:
                    question = foreign[pick % len(foreign)]
                    return f"a:{delivery['id']}:{question['id']}:{token(question)}"
        if how == "truncated":
            data = [
                button["callback_data"]
                for message in self.bot_messages(user)
                for button in message.buttons
                if "callback_data" in button
            ]
            if data:
                chosen = data[pick % len(data)]
                return chosen[: pick % (len(chosen) + 1)]
        if how == "admin":
            task = tasks[pick % len(tasks)]["id"] if tasks else pick
            group = pick % 5
            choices = [
                f"td:{task}:yes",
                f"td:{task}:no",
                f"te:{task}:rm:1",
                f"te:{task}:due",
                f"te:{task}:addq",
                f"tg:{group}",
                f"tp:{task}",
                "tr:daily",
                "tn:none",
                "tt:text",
                "tl:skip",
                "tb:skip",
                "ti:y",
                "tq:n",
                "ta:skip",
                "tm:done",
                "tm:add",
                "tv:save",
                "tv:cancel",
                "stop:yes",
                "del:yes",
                "del:no",
                "stop:maybe",
                "tz:Europe/Berlin",
                "tz:Mars/Base",
            ]
            return choices[pick % len(choices)]
        if how == "prefix":
            return f"{CALLBACK_PREFIXES[pick % len(CALLBACK_PREFIXES)]}:{extra}"
        if how == "odd_numbers":
            number = ["0", "-1", "99999999999999999999", "1.5", "١", " 1", "1e3", ""][pick % 8]
            prefix = ("p", "a", "s", "td", "te", "tg", "tp")[pick % 7]
            return f"{prefix}:{number}:{number}:{extra[:5]}"
        if how == "no_data":
            return None
        return extra

    async def build(self, action: Action) -> tuple[JSON | None, User | None]:
        """The update an action causes (None for a clock tick) and who sent it."""
        if isinstance(action, Tick):
            self.h.advance(timedelta(minutes=action.minutes))
            await self.h.scan()
            return None, None
        if isinstance(action, ChannelPost):
            return self.channel_post(action.text), None
        if isinstance(action, Newcomer):
            user = action.user
            if action.as_command:
                return self.command_update(user, "start", (action.text,)), user
            return self.private(user, {"text": action.text}), user
        user = self.user(action.who)
        if isinstance(action, Say):
            return self.private(user, {"text": action.text}), user
        if isinstance(action, Command):
            return self.command_update(user, action.command, action.args), user
        if isinstance(action, Press):
            messages = self.pressable(user)
            if not messages:
                return self.callback(user, "p:1:start", None), user
            message = messages[-1 - action.message % min(len(messages), 4)]
            buttons = [b for b in message.buttons if "callback_data" in b]
            if not buttons:
                return self.callback(user, None, None), user
            data = buttons[action.button % len(buttons)]["callback_data"]
            raw = self.h.api.message_json(user.chat_id, message.message_id)
            return self.callback(user, data, raw), user
        if isinstance(action, Forge):
            data = self.forged_data(user, action.how, action.pick, action.extra)
            message = self.message_for(user, action.pick, action.on_real_message)
            return self.callback(user, data, message), user
        if isinstance(action, Media):
            return self.media(user, action.kind), user
        if isinstance(action, Edit):
            mine = self.own_messages.get(user.id) or [1]
            message_id = mine[-1 - action.back % len(mine)]
            return self.h.updates.edited_message(user, action.text, message_id), user
        if isinstance(action, GroupPost):
            return self.group_post(user, action.text, action.supergroup), user
        if isinstance(action, Blocks):
            return self.member_update(user, action.blocked), user
        if isinstance(action, Walk):
            if user == THEO:
                return self.therapist_step(action.pick, action.text), user
            return self.next_step(user, action.pick, action.text), user
        raise AssertionError(action)

    def press_first(self, user: User, prefix: str, suffix: str = "", pick: int = 0) -> JSON | None:
        """Press a button whose data starts with ``prefix`` on the newest message having one."""
        for message in reversed(self.pressable(user)):
            data = [
                b["callback_data"]
                for b in message.buttons
                if b.get("callback_data", "").startswith(prefix)
                and b["callback_data"].endswith(suffix)
            ]
            if data:
                raw = self.h.api.message_json(user.chat_id, message.message_id)
                return self.callback(user, data[pick % len(data)], raw)
        return None

    def therapist_step(self, pick: int, typed: str) -> JSON:
        """What a therapist does next: a button of the dialogue, a plausible reply, a command."""
        messages = self.pressable(THEO)
        if messages and pick % 3:
            buttons = [b for b in messages[-1].buttons if "callback_data" in b]
            if buttons:
                raw = self.h.api.message_json(THEO.chat_id, messages[-1].message_id)
                return self.callback(THEO, buttons[pick % len(buttons)]["callback_data"], raw)
        tasks = sorted(t["id"] for t in self.rows["tasks"].values()) or [1]
        task = str(tasks[pick % len(tasks)])
        if pick % 2:
            replies = [*DIALOGUE_REPLIES, typed]
            return self.private(THEO, {"text": replies[pick % len(replies)]})
        command, *args = ADMIN_STEPS[pick % len(ADMIN_STEPS)].format(task=task).split(" ", 1)
        return self.command_update(THEO, command, tuple(args))

    def next_step(self, user: User, pick: int, typed: str) -> JSON:
        rows = self.rows
        me = person_of(rows, user.id)
        asking = [
            d
            for d in rows["deliveries"].values()
            if d["person_id"] == me and d["status"] == "in_progress"
        ]
        if not asking:
            started = self.press_first(user, "p:", ":start", pick)
            return started or self.command_update(user, "tasks", ())
        delivery = asking[0]
        questions = open_questions(rows, delivery)
        if not questions:
            return self.command_update(user, "tasks", ())
        question = questions[0]
        kind = question["response_type"]
        pressed = self.press_first(user, f"a:{delivery['id']}:{question['id']}:", "", pick)
        if pressed is not None and pick % 4:
            return pressed
        if kind == "photo":
            return self.media(user, "photo")
        if kind == "video":
            return self.media(user, "video" if pick % 3 else "video_note")
        if kind == "number":
            low = question["min_value"] or 0
            high = question["max_value"] if question["max_value"] is not None else low + 100
            value = low + pick % (int(high - low) + 1)
            text = str(value) if question["integer_only"] or pick % 2 else f"{value},5"
        elif kind == "yes_no":
            text = ("yes", "No", "👍", "nope")[pick % 4]
        elif kind == "scale":
            text = f"{pick % 11}/10" if pick % 2 else str(pick % 11)
        elif kind == "choice":
            options = question["options"] or ["?"]
            text = options[pick % len(options)].upper() if pick % 2 else str(1 + pick % 3)
        else:
            text = typed
        return self.private(user, {"text": text})

    def group_post(self, user: User, text: str, supergroup: bool) -> JSON:
        chat_id = -1001234567890 if supergroup else -4567
        kind = "supergroup" if supergroup else "group"
        message: JSON = {
            "message_id": self.h.api.next_message_id(chat_id),
            "date": int(self.h.clock.now().timestamp()),
            "chat": {"id": chat_id, "type": kind, "title": "Shoulder Therapy 1"},
            "from": user.to_dict(),
            "text": text,
            **_command_entity(text),
        }
        return {"update_id": self.next_update_id(), "message": message}

    def channel_post(self, text: str) -> JSON:
        chat = {"id": -1009876543210, "type": "channel", "title": "Clinic News"}
        message: JSON = {
            "message_id": self.h.api.next_message_id(chat["id"]),
            "date": int(self.h.clock.now().timestamp()),
            "chat": chat,
            "sender_chat": chat,
            "text": text,
            **_command_entity(text),
        }
        return {"update_id": self.next_update_id(), "channel_post": message}

    def member_update(self, user: User, blocked: bool) -> JSON:
        bot = {"id": self.h.api.bot_id, "is_bot": True, "first_name": "PatientBot"}
        member = {"status": "member", "user": bot}
        kicked = {"status": "kicked", "user": bot, "until_date": 0}
        old, new = (member, kicked) if blocked else (kicked, member)
        change = {
            "chat": user.private_chat(),
            "from": user.to_dict(),
            "date": int(self.h.clock.now().timestamp()),
            "old_chat_member": old,
            "new_chat_member": new,
        }
        return {"update_id": self.next_update_id(), "my_chat_member": change}

    # --- playing and checking ---------------------------------------------------------------

    async def play(self, action: Action) -> str | None:
        """Run one action; return the kind of update it fed (None for a tick)."""
        update, user = await self.build(action)
        if update is None:
            self.rows = glance(self.reader)
            self.check_consistency(action)
            return None
        before = self.rows
        calls_before = len(self.h.api.calls)
        errors_before = len(self.errors)
        log_before = len(self.log.records)
        therapist_ids = self.therapist_ids()
        actor_is_therapist = user is not None and user.id in therapist_ids
        await self.h.feed(update)
        self.updates += 1
        after = glance(self.reader)
        self.rows = after
        where = f"{action!r} -> update {_brief(update)}"
        assert self.errors[errors_before:] == [], where
        assert self.log.records[log_before:] == [], where
        assert not self.h.api.violations, f"{where}: {self.h.api.violations}"
        calls = self.h.api.calls[calls_before:]
        kind = next(k for k in update if k != "update_id")
        chat = _chat_of(update)
        private = chat is not None and chat.get("type") == "private"
        if not private:
            assert calls == [], f"{where}: the bot answered a {kind} outside a private chat"
            assert after == before, f"{where}: a {kind} outside a private chat changed rows"
            return kind
        assert user is not None
        sent = Counter(c.chat_id for c in calls if c.method in SEND_METHODS and c.ok)
        apologies = [c for c in calls if texts.something_went_wrong() in str(c.params)]
        assert not apologies, where
        budget = PATIENT_BUDGET
        if actor_is_therapist:
            # A preview sends the prompt and every question; a long report comes in parts.
            budget += max(Counter(q["task_id"] for q in after["questions"].values()).values())
        assert sent[user.chat_id] <= budget, f"{where}: {sent[user.chat_id]} messages"
        if kind == "message":
            # Whatever someone sends the bot in private, they hear back: nothing is swallowed.
            edits = [c for c in calls if c.method == "editMessageText" and c.chat_id == user.id]
            assert sent[user.chat_id] or edits, f"{where}: the bot said nothing"
        elsewhere = {chat_id: n for chat_id, n in sent.items() if chat_id != user.chat_id}
        if elsewhere:
            # Only an alert goes elsewhere (a therapist may be a patient too): to each
            # therapist, at most once; and a therapist's removal of a patient tells that
            # patient, once.
            told = removed_now(before, after) if actor_is_therapist else set()
            assert set(elsewhere) <= therapist_ids | told, where
            assert max(elsewhere.values()) == 1, where
        if kind == "callback_query":
            query_id = update["callback_query"]["id"]
            answers = [
                c
                for c in calls
                if c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query_id
            ]
            assert len(answers) == 1, f"{where}: the press was answered {len(answers)} times"
        self.check_answers(before, after, where)
        self.check_others_untouched(before, after, user, actor_is_therapist, where)
        self.check_consistency(action)
        return kind

    def therapist_ids(self) -> set[int]:
        """Configured therapists and those added with /addtherapist (as is_therapist reads)."""
        stored = {
            p["telegram_user_id"] for p in self.rows["people"].values() if p["role"] == "therapist"
        }
        return set(self.h.settings.therapists.user_ids) | stored

    def check_answers(self, before: Rows, after: Rows, where: str) -> None:
        for key, answer in after["answers"].items():
            old = before["answers"].get(key)
            if old is not None:
                assert old == answer, f"{where}: a stored answer changed: {old} -> {answer}"
                continue
            problems = answer_problems(answer, after)
            assert not problems, f"{where}: {problems}: {answer}"

    def check_others_untouched(
        self, before: Rows, after: Rows, user: User, actor_is_therapist: bool, where: str
    ) -> None:
        me = person_of(after, user.id) or person_of(before, user.id)
        owned_before, owned_after = rows_by_person(before), rows_by_person(after)
        empty = {t: {} for t in PERSON_TABLES}
        for person_id in set(owned_before) | set(owned_after):
            if person_id == me:
                continue
            old = owned_before.get(person_id, empty)
            new = owned_after.get(person_id, empty)
            if actor_is_therapist:
                # A therapist may plan, cancel or remove; never touch what a patient answered.
                assert old["answers"] == new["answers"], f"{where}: answers of {person_id}"
                continue
            for table in PERSON_TABLES:
                assert old[table] == new[table], f"{where}: {table} of person {person_id} changed"
        if actor_is_therapist:
            return
        for table in THERAPIST_TABLES:
            assert before[table] == after[table], f"{where}: a non-therapist changed {table}"
        assert invites_without_uses(before) == invites_without_uses(after), where
        used = sum(r["uses"] for r in after["invites"].values()) - sum(
            r["uses"] for r in before["invites"].values()
        )
        assert used in (0, 1), f"{where}: invite uses moved by {used}"
        # Wrong invite codes are counted for whoever sent them, and for everyone (row 0).
        counters = before.get("code_attempts", {}), after["code_attempts"]
        moved = {
            k
            for k in set(counters[0]) | set(counters[1])
            if counters[0].get(k) != counters[1].get(k)
        }
        assert moved <= {(user.id,), (0,)}, f"{where}: wrong-code counters of others: {moved}"
        # The audit trail only grows, and a patient's own acts (/mydata, /deletemydata) add
        # events about themselves alone, without their Telegram id.
        trail_before, trail_after = before.get("audit_events", {}), after["audit_events"]
        assert {k: trail_after[k] for k in trail_before} == trail_before, f"{where}: audit"
        for key in set(trail_after) - set(trail_before):
            event = trail_after[key]
            assert (event["actor_role"], event["actor_telegram_id"]) == ("patient", None), where
            assert event["object_id"] == me, f"{where}: an event about someone else"
        # A check-in the patient closed has its messages edited, and forgotten: theirs alone.
        shown_before, shown_after = before.get("checkin_messages", {}), after["checkin_messages"]
        for key in set(shown_before) | set(shown_after):
            old, new = shown_before.get(key), shown_after.get(key)
            if old != new:
                chat = (old or new or {}).get("chat_id")
                assert chat == user.chat_id, f"{where}: messages of chat {chat} changed"
        others = set(after) - set(THERAPIST_TABLES) - set(PERSON_TABLES)
        for table in others - {"invites", "code_attempts", "audit_events", "checkin_messages"}:
            assert before.get(table) == after[table], f"{where}: {table} changed"

    def check_consistency(self, action: Action) -> None:
        in_progress = Counter(
            d["person_id"]
            for d in self.rows["deliveries"].values()
            if d["status"] == "in_progress"
        )
        busy = {p: n for p, n in in_progress.items() if n > 1}
        assert not busy, f"{action!r}: more than one check-in in progress: {busy}"


def _brief(value: Any) -> Any:
    """An update with its long strings shortened, for an assertion message one can read."""
    if isinstance(value, dict):
        return {k: _brief(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_brief(v) for v in value]
    if isinstance(value, str) and len(value) > 60:
        return f"{value[:40]}…({len(value)} characters)"
    return value


def _command_entity(text: str) -> JSON:
    if not text.startswith("/"):
        return {}
    command = text.split()[0] if text.split() else text
    return {"entities": [{"type": "bot_command", "offset": 0, "length": _utf16(command)}]}


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _chat_of(update: JSON) -> JSON | None:
    for kind in ("message", "edited_message", "channel_post", "my_chat_member"):
        if kind in update:
            chat: JSON = update[kind]["chat"]
            return chat
    query = update.get("callback_query")
    if query is not None:
        message = query.get("message")
        return message["chat"] if message else {"type": "private"}
    return None


# --- the test -----------------------------------------------------------------------------


@pytest.fixture
def error_log() -> Iterator[ErrorRecorder]:
    with recording_errors() as recorder:
        yield recorder


def command_names(settings: Settings, database: Database, clock: ManualClock) -> list[str]:
    """Every command a message can start, read off a freshly built Application."""
    application = build_application(settings, request=FakeBotApi(), clock=clock, database=database)
    return sorted(registered_commands(application))


async def demo_rows(settings: Settings, database: Database, clock: ManualClock) -> Rows:
    """The demo seeded and the patients joined, as rows to start every example from."""
    clock.set(START)
    h = await Harness(settings, database, clock).start()
    try:
        h.seed_demo()
        for user, code in JOINS:
            await h.command(user, "/start", code)
    finally:
        await h.stop()
    return read_rows(database)


async def fresh_world(
    settings: Settings,
    database: Database,
    clock: ManualClock,
    start: Rows,
    errors: list[BaseException],
    log: ErrorRecorder,
) -> World:
    restore(database, start)
    clock.set(START)
    h = await Harness(settings, database, clock).start()

    async def record(update: object, context: Any) -> None:
        errors.append(context.error)

    h.app.add_error_handler(record)
    # 18:01: the hip session (10:00), the press-ups (11:00) and the pain check (18:00) are due.
    await h.advance_and_scan(timedelta(hours=9, minutes=1))
    return World(h, errors, log)


def test_random_updates_break_nothing_and_touch_no_one_else(
    settings: Settings,
    database: Database,
    clock: ManualClock,
    error_log: ErrorRecorder,
    backend: str,
) -> None:
    commands = command_names(settings, database, clock)
    assert {"start", "tasks", "newtask", "export", "help"} <= set(commands)
    tally = Tally()
    errors: list[BaseException] = []
    began = time.perf_counter()
    start = asyncio.run(demo_rows(settings, database, clock))

    @hsettings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        phases=PHASES,
    )
    @given(st.lists(actions(commands), min_size=40, max_size=80))
    def play(batch: list[Action]) -> None:
        async def run() -> None:
            world = await fresh_world(settings, database, clock, start, errors, error_log)
            try:
                for action in batch:
                    kind = await world.play(action)
                    if kind is not None:
                        tally.kinds[kind] += 1
            finally:
                tally.updates += world.updates
                tally.examples += 1
                await world.h.stop()
                tally.answers_stored += len(world.rows["answers"])
                world.reader.close()

        asyncio.run(run())

    play()
    print(
        f"\n[{backend}] fuzzed {tally.updates} updates in {tally.examples} examples "
        f"({dict(tally.kinds)}); {tally.answers_stored} answers stored and re-validated; "
        f"{time.perf_counter() - began:.1f} s"
    )
    if EXAMPLES >= 60:
        assert tally.updates >= 3000, tally
    assert tally.answers_stored > 0, "no check-in ever moved: the fuzz would prove nothing"


# --- what the fuzz found, kept as examples ------------------------------------------------

HUGE = "99999999999999999999"  # past any 32- or 64-bit column: PostgreSQL refused to compare


@pytest.mark.parametrize(
    ("who", "act", "args"),
    [
        (THEO, "/patients", (HUGE,)),
        (THEO, "/report", (f"#{HUGE}",)),
        (THEO, "/tasks", (HUGE,)),
        (THEO, "/invite", ("Hip Therapy 1", "3", HUGE)),
        (THEO, "press", (f"td:{HUGE}:yes",)),
        (THEO, "press", (f"tp:{HUGE}",)),
        (ALICE, "press", (f"p:{HUGE}:start",)),
        (ALICE, "press", (f"a:1:{HUGE}:y",)),
        (ALICE, "press", (f"s:{HUGE}:1",)),
        (ALICE, "/start", (HUGE,)),
    ],
)
async def test_an_id_too_big_for_the_database_is_refused_like_an_unknown_one(
    settings: Settings,
    database: Database,
    clock: ManualClock,
    error_log: ErrorRecorder,
    who: User,
    act: str,
    args: tuple[str, ...],
) -> None:
    h = await Harness(settings, database, clock).start()
    errors: list[BaseException] = []

    async def record(update: object, context: Any) -> None:
        errors.append(context.error)

    h.app.add_error_handler(record)
    try:
        h.seed_demo()
        await h.command(ALICE, "/start", "SHOULDER1")
        await h.command(who, "/help")
        before = read_rows(database)
        if act == "press":
            await h.press_data(who, args[0])
            assert len(h.callback_answers()) == 1
        else:
            await h.command(who, act, *args)
            assert texts.something_went_wrong() not in h.last_text(who.chat_id)
        assert errors == [] and error_log.records == []
        after = read_rows(database)
        if act == "/start":
            # An unknown code is counted against its sender (and everyone), like any other.
            assert set(after.pop("code_attempts")) == {(who.id,), (0,)}
            before.pop("code_attempts")
        assert after == before
        assert not h.api.violations
    finally:
        await h.stop()


async def test_a_forged_press_on_a_file_or_a_vanished_message_gets_its_answer_anew(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    h = await Harness(settings, database, clock).start()
    try:
        h.seed_demo()
        await h.command(THEO, "/export")
        document = h.last_message(THEO.chat_id)
        await h.press_data(THEO, "stop:no", document.message_id)
        await h.feed(
            {
                "update_id": 999,
                "callback_query": {
                    "id": "gone-1",
                    "from": THEO.to_dict(),
                    "chat_instance": "ci",
                    "data": "del:no",
                    "message": {"chat": THEO.private_chat(), "message_id": 1, "date": 0},
                },
            }
        )
        assert h.texts(THEO.chat_id)[-2:] == [
            plain_text(texts.checkin_stop_kept()),
            plain_text(texts.checkin_delete_kept()),
        ]
        assert not h.api.violations
    finally:
        await h.stop()


def plain_text(html_text: str) -> str:
    return re.sub(r"<[^>]+>", "", html_text)


RULES = [
    QuestionRules(ResponseType.NUMBER),
    QuestionRules(ResponseType.NUMBER, min_value=-5, max_value=5),
    QuestionRules(ResponseType.NUMBER, min_value=0, max_value=240, integer_only=True),
    QuestionRules(ResponseType.SCALE),
    QuestionRules(ResponseType.SCALE, min_value=1, max_value=5),
    QuestionRules(ResponseType.CHOICE, options=("Left", "Right", "Both the same")),
    QuestionRules(ResponseType.TEXT, max_length=20),
    QuestionRules(ResponseType.TEXT),
]
NUMBERISH = st.one_of(
    st.text(st.sampled_from("0123456789.,-+/ \u2212"), max_size=45),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)


@hsettings(max_examples=2000, deadline=None, derandomize=not RANDOM, database=None)
@given(st.sampled_from(RULES), st.one_of(NUMBERISH, SHORT_TEXT))
def test_what_is_stored_reads_back_as_the_same_answer(rules: QuestionRules, typed: str) -> None:
    accepted = parse_reply(rules, Reply(kind="text", text=typed))
    if not isinstance(accepted, Accepted):
        return
    again = parse_reply(rules, Reply(kind="text", text=accepted.display))
    if isinstance(again, Rejected) and again.hint.kind is Kind.HINT_NUMBER_TWO_READINGS:
        # "1.001" typed by a patient is asked again (a thousand and one to a German); stored,
        # it is the decimal, and reads back as that.
        assert parse_number(accepted.display) == accepted.number, typed
        return
    # The display is what summaries, exports and alerts show: never "1e-06" or "7.0".
    assert isinstance(again, Accepted), (typed, accepted)
    assert (again.display, again.number) == (accepted.display, accepted.number), typed
    assert "e" not in accepted.display or rules.response_type != ResponseType.NUMBER


PASTED = "ï" * 4085  # a message at Telegram's length limit, pasted where a name goes


async def test_a_message_too_long_to_quote_back_gets_a_reply_not_an_apology(
    settings: Settings, database: Database, clock: ManualClock, error_log: ErrorRecorder
) -> None:
    h = await Harness(settings, database, clock).start()
    errors: list[BaseException] = []

    async def record(update: object, context: Any) -> None:
        errors.append(context.error)

    h.app.add_error_handler(record)
    try:
        h.seed_demo()
        await h.command(ALICE, "/start", "SHOULDER1")
        for command in command_names(settings, database, clock):
            # At a person's pace: faster, Alice's replies would pause as a flood (bot.floods).
            h.advance(timedelta(seconds=5))
            for user in (ALICE, THEO):
                await h.command(user, f"/{command}", PASTED)
                await h.command(user, f"/{command}", "Shoulder Therapy 1", PASTED)
                await h.command(THEO, "/cancel")
        # Every step of /newtask that reads a typed text, given the pasted text first.
        await h.command(THEO, "/newtask")
        await h.press(THEO, "Shoulder Therapy 1")
        for step in ("Evening", "tomorrow 10:00", "daily"):
            await h.text(THEO, PASTED)
            await h.text(THEO, step)
        assert errors == [] and error_log.records == []
        assert not h.api.violations
        replies = h.texts(ALICE.chat_id) + h.texts(THEO.chat_id)
        assert texts.something_went_wrong() not in replies
        assert plain_text(texts.hardening_too_long_to_repeat()) in replies
    finally:
        await h.stop()
