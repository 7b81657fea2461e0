"""Who may do what: every command and every button, as each kind of person, changes only theirs.

The scene: the demo seeded; Alice and Bob in Shoulder Therapy 1, Chloe in Hip Therapy 1. Alice
has finished the pain check (her last answer is a secret sentence) and is half-way through the
press-ups; Chloe is half-way through her hip session. Then, starting from that same database
each time, every registered command and every kind of button data is tried as:

- a patient of the same group (Bob), a patient of another group (Chloe), a stranger the bot has
  never seen, and the therapist;
- with ids that exist but belong to someone else: Alice's deliveries and questions, the
  programme's tasks and groups.

Only what each may do happens: patients and strangers change no therapist data and nobody
else's rows, no one can answer, skip or start another patient's check-in (the therapist
neither), admin buttons refuse non-therapists, and nothing anyone is sent quotes Alice's
answers. Further down: invite codes cannot be guessed or enumerated, and the bot token and
patients' answers stay out of the log at the default level.

The webhook's secret token is checked in tests/deploy/test_webhook.py
(``test_a_request_without_the_right_secret_is_refused_and_not_processed``).
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import BaseHandler, CallbackQueryHandler, ConversationHandler

from bot import texts
from bot.clock import ManualClock
from bot.config import Settings
from bot.context import BotApplication
from bot.logs import setup_logging
from bot.services import authoring
from fakebotapi import ServerError
from storage.db import Database
from tests.deploy.conftest import TOKEN, WEBHOOK_SECRET, with_changes
from tests.fakes.harness import Harness, patient, therapist
from tests.fakes.snapshots import (
    THERAPIST_TABLES,
    Rows,
    clear_inbox,
    open_questions,
    read_rows,
    restore,
    rows_by_person,
)
from tests.fakes.updates import User
from tests.flows.test_therapist_access import ARGUMENTS, EVERYONE, REFUSAL, STRANGER
from tests.flows.test_therapist_support import invite_code
from tests.hardening.test_fuzz import command_names

ROOT = Path(__file__).resolve().parents[2]
ALICE, BOB, CHLOE, THEO = patient(0), patient(1), patient(2), therapist()
SECRET = "my neighbour's dog bit me, do not tell Bob 5417"
ROLES: dict[str, User] = {
    "patient": BOB,
    "patient of another group": CHLOE,
    "stranger": STRANGER,
    "therapist": THEO,
}
REFUSALS = {
    texts.checkin_refused(reason)
    for reason in (
        "not_yours",
        "unknown_person",
        "completed",
        "closed",
        "stale",
        "not_yet",
        "not_an_option",
    )
}
SEND_METHODS = ("sendMessage", "editMessageText", "sendDocument", "answerCallbackQuery")


# --- the scene --------------------------------------------------------------------------------


@dataclass
class Scene:
    rows: Rows
    moment: Any
    alice_open: int  # Alice's press-ups, under way
    alice_open_question: int  # the question it asks now
    alice_done: int  # Alice's pain check, finished
    alice_done_questions: list[int]
    task: int  # the press-ups task
    group: int  # Shoulder Therapy 1
    chloe_open: int
    alice: int  # her person row
    alice_secret: int  # the answer holding SECRET


def one(rows: Rows, table: str, **where: Any) -> dict[str, Any]:
    found = [r for r in rows[table].values() if all(r[k] == v for k, v in where.items())]
    assert len(found) == 1, (table, where, found)
    return found[0]


def person_id(rows: Rows, user: User) -> int:
    return int(one(rows, "people", telegram_user_id=user.id)["id"])


def delivery_of(rows: Rows, user: User, title: str, **where: Any) -> dict[str, Any]:
    task = one(rows, "tasks", title=title)
    return one(rows, "deliveries", person_id=person_id(rows, user), task_id=task["id"], **where)


def questions_of(rows: Rows, task_id: int) -> list[dict[str, Any]]:
    found = [q for q in rows["questions"].values() if q["task_id"] == task_id]
    return sorted(found, key=lambda q: q["position"])


async def build_scene(settings: Settings, database: Database, clock: ManualClock) -> Scene:
    h = await Harness(settings, database, clock).start()
    try:
        h.seed_demo()
        for user, code in ((ALICE, "SHOULDER1"), (BOB, "SHOULDER1"), (CHLOE, "HIP1")):
            await h.command(user, "/start", code)
        # 18:01: the press-ups (11:00), the pain check (18:00) and the hip session are due.
        await h.advance_and_scan(timedelta(hours=9, minutes=1))
        rows = read_rows(database)
        pain = delivery_of(rows, ALICE, "Shoulder pain check", status="sent")
        await h.press_data(ALICE, f"p:{pain['id']}:start")
        await h.press(ALICE, "3")
        await h.text(ALICE, "25")
        await h.text(ALICE, SECRET)
        ups = delivery_of(rows, ALICE, "Perform 20 Press-Ups (day 1)", status="sent")
        await h.press_data(ALICE, f"p:{ups['id']}:start")
        await h.press(ALICE, "Yes")
        hip = delivery_of(rows, CHLOE, "Hip mobility session", status="sent")
        await h.press_data(CHLOE, f"p:{hip['id']}:start")
        await h.press(CHLOE, "Yes")
        assert not h.api.violations
    finally:
        await h.stop()
    rows = read_rows(database)
    assert SECRET in {a["value_text"] for a in rows["answers"].values()}
    ups = one(rows, "deliveries", id=ups["id"])
    assert ups["status"] == "in_progress"
    current = open_questions(rows, ups)[0]
    return Scene(
        rows=rows,
        moment=clock.now(),
        alice_open=ups["id"],
        alice_open_question=current["id"],
        alice_done=pain["id"],
        alice_done_questions=[q["id"] for q in questions_of(rows, pain["task_id"])],
        task=ups["task_id"],
        group=one(rows, "groups", name="Shoulder Therapy 1")["id"],
        chloe_open=hip["id"],
        alice=one(rows, "people", telegram_user_id=ALICE.id)["id"],
        alice_secret=one(rows, "answers", value_text=SECRET)["id"],
    )


@pytest.fixture
async def scene(settings: Settings, database: Database, clock: ManualClock) -> Scene:
    return await build_scene(settings, database, clock)


# --- one try: one person, one update, from the scene ------------------------------------------


@dataclass
class Try:
    """What one update by one person did: the rows before and after, and what they were sent."""

    before: Rows
    after: Rows
    replies: list[str]
    toasts: list[str]
    elsewhere: list[Any]

    def changed_tables(self) -> set[str]:
        return {t for t in self.after if self.after[t] != self.before.get(t)}

    def rows_changed_of_others(self, actor: User) -> list[int]:
        before, after = rows_by_person(self.before), rows_by_person(self.after)
        me = {
            p["id"]
            for rows in (self.before, self.after)
            for p in rows["people"].values()
            if p["telegram_user_id"] == actor.id
        }
        return sorted(
            p for p in set(before) | set(after) if p not in me and before.get(p) != after.get(p)
        )


@dataclass
class Stage:
    """Replays the scene for each try, so no try sees what another one did."""

    settings: Settings
    database: Database
    clock: ManualClock
    scene: Scene
    dirty: bool = False

    async def attempt(self, actor: User, act: str, *args: str) -> Try:
        """``act`` is "/command" (``args`` its arguments) or "press" (``args[0]`` the data)."""
        if self.dirty:
            restore(self.database, self.scene.rows)
        else:
            clear_inbox(self.database)
        self.clock.set(self.scene.moment)
        h = await Harness(self.settings, self.database, self.clock).start()
        try:
            # A message of the bot's in the actor's chat, for a forged press to sit under.
            await h.command(actor, "/help")
            since = len(h.api.calls)
            before = read_rows(self.database)
            if act == "press":
                await h.press_data(actor, args[0])
            else:
                await h.command(actor, act, *args)
            after = read_rows(self.database)
            # Each try's fake starts with an empty chat, so the scene's prompts are not there:
            # closing them (bot.closing, after /stop or Skip) is answered "not found", as
            # Telegram answers for a message the patient deleted. Nothing else may be refused.
            invalid = [
                v
                for v in h.api.violations
                if not (
                    v.method in ("editMessageText", "editMessageReplyMarkup")
                    and "message to edit not found" in v.description
                )
            ]
            assert not invalid, invalid
            calls = h.api.calls[since:]
        finally:
            await h.stop()
        self.dirty = after != self.scene.rows
        mine = [c for c in calls if c.method in SEND_METHODS and c.chat_id == actor.chat_id]
        return Try(
            before=before,
            after=after,
            replies=[str(c.params.get("text") or c.params.get("caption") or "") for c in mine],
            toasts=[
                str(c.params.get("text") or "") for c in calls if c.method == "answerCallbackQuery"
            ],
            elsewhere=[
                c
                for c in calls
                if c.method in SEND_METHODS
                and c.chat_id != actor.chat_id
                and c.method != "answerCallbackQuery"
            ],
        )


@pytest.fixture
def stage(settings: Settings, database: Database, clock: ManualClock, scene: Scene) -> Stage:
    return Stage(settings, database, clock, scene)


def assert_sees_nothing_of_alice(attempt: Try, where: str) -> None:
    seen = "\n".join(attempt.replies + attempt.toasts)
    assert SECRET not in seen, where
    assert "neighbour" not in seen, where


# --- commands ---------------------------------------------------------------------------------


def patient_arguments(command: str, scene: Scene) -> list[list[str]]:
    """Plain, and with Alice's ids where an id could go."""
    ids = [str(scene.alice_open), str(scene.alice_done)]
    return {
        "start": [[], ["SHOULDER1"], ids[:1]],
        "timezone": [["Asia/Tokyo"], ids[:1]],
        "tasks": [[], ids[:1]],
    }.get(command, [[], ids[:1]])


async def test_every_command_as_every_kind_of_person_changes_only_what_they_may(
    stage: Stage, settings: Settings, database: Database, clock: ManualClock
) -> None:
    commands = command_names(settings, database, clock)
    admin = sorted(set(commands) - EVERYONE - {"help"})
    assert len(admin) >= 16 and {"start", "tasks", "deletemydata"} <= set(commands)
    scene = stage.scene
    tried: set[tuple[str, str]] = set()  # (command, role) cells with at least one try
    tries = 0
    for command in commands:
        for role, actor in ROLES.items():
            variants = (
                [ARGUMENTS.get(command, ["1"])]
                if command in admin
                else patient_arguments(command, scene)
            )
            for args in variants:
                where = f"/{command} {' '.join(args)} as {role}"
                attempt = await stage.attempt(actor, f"/{command}", *args)
                tries += 1
                tried.add((command, role))
                if command in admin and role != "therapist":
                    assert attempt.replies == [REFUSAL], where
                    assert attempt.after == attempt.before, where
                    continue
                if role == "therapist":
                    if command in admin:
                        assert REFUSAL not in attempt.replies, where
                    # A therapist runs the programme; what a patient answered stays theirs.
                    assert attempt.after["answers"] == attempt.before["answers"], where
                    continue
                assert_sees_nothing_of_alice(attempt, where)
                assert attempt.rows_changed_of_others(actor) == [], where
                for table in THERAPIST_TABLES:
                    assert attempt.after[table] == attempt.before[table], where
                assert not attempt.elsewhere, where
    cells = len(tried)
    print(f"\ncommands: {len(commands)} x {len(ROLES)} roles = {cells} cells, {tries} tries")
    assert cells == len(commands) * len(ROLES), "every command was tried by every role"


# --- buttons ----------------------------------------------------------------------------------

# Every callback kind, by who owns it (bot/keyboards.py): the check-in's and the therapist's.
CHECKIN_KINDS = {"p", "a", "s", "tz", "stop", "del", "cj", "cm", "lang"}
THERAPIST_KINDS = {
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
    "tk",
    "tm",
    "tv",
    "chart",
    "au",
    "pp",
    "po",
    "pm",
    "pc",
    "rp",
    "ct",
    "tc",
}
# A therapist of her group may read Alice's answers: her page and its buttons show them, and
# so does her chart chosen under /chart NAME.
THERAPIST_VIEWS = {"pp", "po", "pm", "pc"}


def callback_kinds(application: BotApplication) -> set[str]:
    """The kinds the registered button handlers answer, read off their patterns."""
    kinds: set[str] = set()

    def visit(handler: BaseHandler[Any, Any, Any]) -> None:
        if isinstance(handler, CallbackQueryHandler) and isinstance(handler.pattern, re.Pattern):
            pattern = handler.pattern.pattern
            match = re.match(r"\^([a-z]+)(?:\[([a-z]+)\])?:", pattern)
            assert match is not None, f"a button pattern this test cannot read: {pattern}"
            head, letters = match[1], match[2]
            kinds.update(f"{head}{c}" for c in letters) if letters else kinds.add(head)
        elif isinstance(handler, ConversationHandler):
            for group in (handler.entry_points, handler.fallbacks, *handler.states.values()):
                for inner in group:
                    visit(inner)

    for handlers in application.handlers.values():
        for handler in handlers:
            visit(handler)
    return kinds


def kinds_in_the_source() -> set[str]:
    """Every kind the bot puts on a button: the first part given to keyboards.encode."""
    found: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        found.update(re.findall(r"keyboards\.encode\(\s*\"([a-z]+)\"", source))
        found.update(re.findall(r"_button\([^()]*?(?:\([^()]*\))?[^()]*?,\s*\"([a-z]+)\"", source))
        found.update(re.findall(r"confirm_keyboard\(\s*\"([a-z]+)\"", source))
    return found


def test_the_matrix_covers_every_kind_of_button(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    from bot.app import build_application
    from fakebotapi import FakeBotApi

    application = build_application(settings, request=FakeBotApi(), clock=clock, database=database)
    handled = callback_kinds(application)
    assert handled == CHECKIN_KINDS | THERAPIST_KINDS
    assert kinds_in_the_source() <= handled, kinds_in_the_source() - handled


def forged_buttons(scene: Scene) -> dict[str, list[str]]:
    """Per kind, data naming things that exist but are not the presser's."""
    d, q = scene.alice_open, scene.alice_open_question
    done, done_qs = scene.alice_done, scene.alice_done_questions
    task, group = scene.task, scene.group
    return {
        "p": [f"p:{d}:start", f"p:{d}:later", f"p:{d}:skip", f"p:{done}:start"],
        "a": [f"a:{d}:{q}:y", f"a:{d}:{q}:n", f"a:{done}:{done_qs[0]}:5"],
        "s": [f"s:{d}:{q}", f"s:{done}:{done_qs[-1]}"],
        "tz": ["tz:Asia/Tokyo"],
        # The presser's own language; a code the bot does not speak.
        "lang": ["lang:de", "lang:xx"],
        "stop": ["stop:yes", "stop:no"],
        "del": ["del:yes", "del:no"],
        "td": [f"td:{task}:yes", f"td:{task}:no"],
        "tp": [f"tp:{task}"],
        "te": [f"te:{task}:due", f"te:{task}:rm:1"],
        "tg": [f"tg:{group}"],
        "tr": ["tr:daily"],
        "tn": ["tn:none"],
        "tt": ["tt:scale"],
        "tl": ["tl:skip"],
        "tb": ["tb:skip"],
        "ti": ["ti:y"],
        "tq": ["tq:n"],
        "ta": ["ta:skip"],
        "tk": ["tk:text", "tk:alert"],
        "tm": ["tm:done"],
        "tv": ["tv:save"],
        "chart": [f"chart:{group}"],
        "au": ["au:0:0:0", f"au:{group}:7:10"],
        # A join waiting for consent that is not the presser's; declining consent for a group.
        "cj": ["cj:1:1:y", "cj:1:1:n"],
        "cm": [f"cm:{group}:1:y", f"cm:{group}:1:n"],
        "pp": [f"pp:{scene.alice}:0", f"pp:{scene.alice}:0:96"],
        "po": [f"po:{scene.alice}"],
        "pm": [f"pm:{scene.alice_secret}"],
        "pc": [f"pc:{scene.alice}", f"pc:{scene.alice}:pain"],
        "rp": [f"rp:g:{group}:0"],
        "ct": [f"ct:{group}:4242"],
        "tc": ["tc:save", "tc:cancel"],
    }


async def test_every_button_as_every_kind_of_person_changes_only_what_they_may(
    stage: Stage,
) -> None:
    scene = stage.scene
    buttons = forged_buttons(scene)
    assert set(buttons) == CHECKIN_KINDS | THERAPIST_KINDS
    tried: set[tuple[str, str]] = set()  # (kind, role) cells with at least one press
    tries = 0
    for kind, datas in buttons.items():
        for role, actor in ROLES.items():
            for data in datas:
                where = f"{data} pressed by the {role}"
                attempt = await stage.attempt(actor, "press", data)
                tries += 1
                tried.add((kind, role))
                assert len(attempt.toasts) == 1, where
                if not (role == "therapist" and kind in THERAPIST_VIEWS):
                    assert_sees_nothing_of_alice(attempt, where)
                assert not attempt.elsewhere, where
                if kind in ("p", "a", "s"):
                    # Alice's check-ins: nobody else may start, answer or skip them.
                    assert attempt.toasts[0] in REFUSALS, where
                    assert attempt.after == attempt.before, where
                elif kind in THERAPIST_KINDS and role != "therapist":
                    assert attempt.toasts == [texts.admin_refused()], where
                    assert attempt.after == attempt.before, where
                elif kind in THERAPIST_KINDS:
                    # Deleting a task is the therapist's to do; no other press changes anything
                    # without the dialogue that made the button.
                    if kind in THERAPIST_VIEWS:
                        # Seeing Alice's answers is recorded in the trail, and only that.
                        assert attempt.changed_tables() <= {"audit_events"}, where
                        seen = [
                            (e["action"], e["actor_telegram_id"])
                            for key, e in attempt.after["audit_events"].items()
                            if key not in attempt.before["audit_events"]
                        ]
                        # One event for a page shown; none for Alice's secret, which is
                        # not a photo or video and so is refused as "no longer there".
                        shown = data != f"pm:{scene.alice_secret}"
                        assert seen == ([("record_viewed", actor.id)] if shown else []), where
                    elif data != f"td:{scene.task}:yes":
                        assert attempt.after == attempt.before, where
                    assert attempt.after["answers"] == attempt.before["answers"], where
                else:
                    # Time zone, language, stop, delete: about the presser alone.
                    assert attempt.rows_changed_of_others(actor) == [], where
                    for table in THERAPIST_TABLES:
                        assert attempt.after[table] == attempt.before[table], where
    cells = len(tried)
    print(f"\nbuttons: {len(buttons)} kinds x {len(ROLES)} roles = {cells} cells, {tries} tries")
    assert cells == len(buttons) * len(ROLES), "every kind of button was pressed by every role"


async def test_a_task_deleted_by_the_therapist_keeps_every_answer(stage: Stage) -> None:
    attempt = await stage.attempt(THEO, "press", f"td:{stage.scene.task}:yes")
    assert attempt.changed_tables() <= {"tasks", "deliveries", "audit_events"}
    new = [
        e
        for key, e in attempt.after["audit_events"].items()
        if key not in attempt.before["audit_events"]
    ]
    (event,) = new
    assert (event["action"], event["object_id"]) == ("task_deleted", stage.scene.task)
    task = attempt.after["tasks"][(stage.scene.task,)]
    assert task["deleted_at"] is not None
    assert attempt.after["answers"] == attempt.before["answers"]


# --- invite codes -----------------------------------------------------------------------------

ALPHABET = set(string.ascii_letters + string.digits + "_-")


def bits_of(length: int, alphabet: int, last_bits: float) -> float:
    """Entropy of a token_urlsafe code: whole characters plus the few bits of the last one."""
    return (length - 1) * math.log2(alphabet) + last_bits


async def test_invite_codes_carry_at_least_96_random_bits_even_matched_in_any_case(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    h = await Harness(settings, database, clock).start()
    try:
        h.seed_demo()
        codes = []
        for _ in range(25):
            await h.command(THEO, "/invite", "Shoulder Therapy 1")
            codes.append(invite_code(h.last_text(THEO.chat_id)))
    finally:
        await h.stop()
    many = codes + [authoring.new_invite_code() for _ in range(20_000)]
    assert len(set(many)) == len(many), "an invite code came out twice"
    lengths = {len(code) for code in many}
    assert lengths == {22}, lengths
    assert all(set(code) <= ALPHABET for code in many)
    # Every one of the 64 characters turns up in every full position: no position is fixed.
    for position in range(21):
        assert {code[position] for code in many} == ALPHABET, position
    # 16 random bytes: 21 characters of 6 bits and a last one of 2 bits (4 values).
    assert {code[21] for code in many} == set("AQgw")
    exact = bits_of(22, 64, 2)
    # /start also takes a code typed in another case when it names exactly one invite. Folding
    # case merges each letter with its twin: a guess of one character then hits with
    # probability 2/64, not 1/64, so each character keeps 5 bits (the last one keeps its 2,
    # as A, Q, g and w stay apart).
    folded = bits_of(22, 32, 2)
    assert exact == 128
    assert folded >= 96, "case-insensitive matching would weaken invite codes too much"
    print(f"\ninvite codes: {exact:.0f} bits exact, {folded:.0f} bits matched in any case")


async def test_a_code_is_matched_exactly_never_by_prefix_pattern_or_neighbour(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    # About matching, not throttling (tests/flows/test_invite_security.py): every guess counts.
    patient = settings.invites.model_copy(update={"wrong_codes_per_user": 1000})
    h = await Harness(settings.model_copy(update={"invites": patient}), database, clock).start()
    try:
        h.seed_demo()
        await h.command(THEO, "/invite", "Hip Therapy 1")
        code = invite_code(h.last_text(THEO.chat_id))
        await h.command(THEO, "/invite", "Shoulder Therapy 1")
        revoked = invite_code(h.last_text(THEO.chat_id))
        await h.command(THEO, "/revoke", revoked)
        # One character off, and off in any case too: "b" for "B" is the same code typed in
        # another case, which joins (see the end of this test).
        neighbour = code[:5] + ("B" if code[5].upper() != "B" else "C") + code[6:]
        guesses = [
            code[:-1],
            code[:8],
            code + "A",
            code[:-1] + "_",
            code[:-1] + "%",
            "%",
            "_" * 22,
            neighbour,
            "SHOULDER",
            "SHOULDER_",
            "HIP",
            "HIP1x",
            "ＨＩＰ１",  # full-width look-alikes
            revoked[:-1],
            "A" * 22,
            "' OR '1'='1",
        ]
        before = read_rows(database)
        await h.command(STRANGER, "/start", authoring.new_invite_code())
        unknown = h.last_text(STRANGER.chat_id)
        assert "I don't know that invite code" in unknown
        replies = {}
        for guess in guesses:
            await h.command(STRANGER, "/start", guess)
            replies[guess] = h.last_text(STRANGER.chat_id)
        assert {g: r for g, r in replies.items() if r != unknown} == {}
        after = read_rows(database)
        # Nothing but the wrong-code counters, the stranger's own and everyone's.
        assert set(after.pop("code_attempts")) == {(STRANGER.id,), (0,)}
        before.pop("code_attempts")
        assert after == before, "a wrong code changed something"
        # The code itself, or typed in another case, does join.
        await h.command(STRANGER, "/start", code.swapcase())
        assert "Hip Therapy 1" in h.last_text(STRANGER.chat_id)
        assert not h.api.violations
    finally:
        await h.stop()


async def test_guessing_codes_reveals_nothing_about_other_valid_codes(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """Unknown, expired, revoked and used-up codes each get their sentence, the code's own."""
    h = await Harness(settings, database, clock).start()
    try:
        h.seed_demo()
        await h.command(THEO, "/invite", "Shoulder Therapy 1 1 1")
        used = invite_code(h.last_text(THEO.chat_id))
        await h.command(BOB, "/start", used)
        await h.command(THEO, "/invite", "Hip Therapy 1 1")
        expired = invite_code(h.last_text(THEO.chat_id))
        h.advance(timedelta(days=2))
        tried = {}
        for name, code in (
            ("used", used),
            ("expired", expired),
            ("unknown", authoring.new_invite_code()),
        ):
            await h.command(STRANGER, "/start", code)
            tried[name] = h.last_text(STRANGER.chat_id)
        assert tried["used"] != tried["unknown"] != tried["expired"]
        for reply in tried.values():
            # No group, no other code, no member is named to someone without a working code.
            assert "Therapy" not in reply and "Bob" not in reply
            assert used not in reply and expired not in reply
        assert not h.api.violations
    finally:
        await h.stop()


# --- the log ----------------------------------------------------------------------------------


@pytest.fixture
def log_capture() -> Iterator[list[io.StringIO]]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    streams: list[io.StringIO] = []
    try:
        yield streams
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_whole_day_logs_neither_the_token_nor_anything_a_patient_answered(
    settings: Settings,
    database: Database,
    clock: ManualClock,
    log_capture: list[io.StringIO],
    fmt: str,
) -> None:
    settings = with_changes(settings, telegram={"token": TOKEN, "webhook_secret": WEBHOOK_SECRET})
    stream = io.StringIO()
    secrets = [settings.telegram.token.get_secret_value(), WEBHOOK_SECRET]
    setup_logging("INFO", fmt, secrets, stream=stream)
    h = await Harness(settings, database, clock).start()
    answers = {SECRET, "zebra-answer-typo 4711", "17 minutes of hopping"}
    try:
        h.seed_demo()
        for user, code in ((ALICE, "SHOULDER1"), (BOB, "SHOULDER1"), (CHLOE, "HIP1")):
            await h.command(user, "/start", code)
        await h.advance_and_scan(timedelta(hours=9, minutes=1))
        await h.command(ALICE, "/tasks")
        await h.press(ALICE, texts.checkin_button_task("Shoulder pain check", False))
        await h.press(ALICE, "9")  # an alert to the therapist
        await h.text(ALICE, "zebra-answer-typo 4711")  # not a number: asked again
        await h.text(ALICE, "25")
        h.api.inject("sendMessage", ServerError(500))  # the summary is lost on the way
        await h.text(ALICE, SECRET)
        await h.command(ALICE, "/timezone", "Europe/Berlin")
        await h.press_data(BOB, "a:1:1:y")  # forged
        await h.text(CHLOE, "17 minutes of hopping")
        await h.command(THEO, "/report", "Shoulder Therapy 1")
        await h.command(THEO, "/export")
        await h.command(THEO, "/patients", "Shoulder Therapy 1")
        await h.advance_and_scan(timedelta(hours=3))  # reminders and expiries
        await h.command(BOB, "/deletemydata")
        await h.press(BOB, texts.checkin_button_delete_yes())
    finally:
        await h.stop()
    output = stream.getvalue()
    assert "due scan" in output, "nothing was logged: the test would prove nothing"
    assert "Unhandled error" in output or "lost" in output, "the injected failure left no trace"
    if fmt == "json":
        assert all(json.loads(line) for line in output.splitlines())
    for secret in [*secrets, *answers]:
        assert secret not in output, f"{secret!r} is in the log:\n{output}"
    for fragment in ("zebra", "neighbour", "hopping"):
        assert fragment not in output
