"""The TOML seed: the demo loads, loading twice changes nothing, bad files write nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from bot import texts
from bot.cli import main
from bot.services.revisions import revise
from bot.services.seeding import SeedError, SeedPlan, apply_seed, read_seed
from storage.db import Database
from storage.models import (
    AuditEvent,
    ConsentVersion,
    GroupTherapist,
    Invite,
    Person,
    Question,
    QuestionRevision,
    Task,
    TherapyGroup,
)

DEMO = Path(__file__).parents[2] / "seed_data" / "demo.toml"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ZONE = "Europe/London"


def today_in(zone: ZoneInfo) -> date:
    return NOW.astimezone(zone).date()


def read(path: Path) -> SeedPlan:
    return read_seed(path, today_in, ZONE)


def row_counts(database: Database) -> dict[str, int]:
    with database.session() as session:
        return {
            name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in SQLModel.metadata.tables.items()
        }


def seed_problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeedError) as caught:
        read(path)
    return [texts.seed_problem(p) for p in caught.value.problems]


def edited_demo(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    """The demo file with each (old, new) text replaced, written to ``tmp_path``."""
    text = DEMO.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, f"the demo file no longer has {old!r}"
        text = text.replace(old, new)
    edited = tmp_path / "demo.toml"
    edited.write_text(text, encoding="utf-8")
    return edited


def test_the_demo_seed_has_the_original_apps_programme(database: Database) -> None:
    report = apply_seed(database, read(DEMO), NOW, ZONE)
    assert report.created["groups"] == 3
    with database.session() as session:
        groups = {g.name for g in session.exec(select(TherapyGroup)).all()}
        assert groups == {"Shoulder Therapy 1", "Hip Therapy 1", "Knee Therapy 1"}
        press_ups = session.exec(
            select(Task).where(Task.title.startswith("Perform 20 Press-Ups"))  # type: ignore[attr-defined]
        ).all()
        assert [(t.due_date, t.due_time) for t in sorted(press_ups, key=lambda t: t.due_date)] == [
            (date(2026, 11, 25), time(11, 0)),
            (date(2026, 11, 26), time(12, 0)),
            (date(2026, 11, 27), time(13, 0)),
        ]
        for task in press_ups:
            questions = session.exec(
                select(Question).where(Question.task_id == task.id).order_by(Question.position)
            ).all()
            assert [q.description for q in questions] == [
                "Do 10 Push-Ups",
                "Do 20 Push-Ups",
                "Do 30 Push-Ups",
            ]
            assert all(q.link and q.link.startswith("https://") for q in questions)
        types = {q.response_type for q in session.exec(select(Question)).all()}
        assert types == {"text", "number", "yes_no", "scale", "choice", "photo", "video"}
        codes = {i.code for i in session.exec(select(Invite)).all()}
        assert codes == {"SHOULDER1", "HIP1", "KNEE1"}


def test_seeding_twice_changes_nothing_the_second_time(database: Database) -> None:
    first = apply_seed(database, read(DEMO), NOW, ZONE)
    counts = row_counts(database)
    second = apply_seed(database, read(DEMO), NOW, ZONE)
    assert first.changed
    assert not second.changed
    assert sum(second.unchanged.values()) == sum(first.created.values())
    assert row_counts(database) == counts


def test_an_edited_seed_updates_in_place(database: Database, tmp_path: Path) -> None:
    apply_seed(database, read(DEMO), NOW, ZONE)
    edited = edited_demo(tmp_path, ('due = "+2d 13:00"', 'due = "+2d 14:30"'))
    counts = row_counts(database)
    report = apply_seed(database, read(edited), NOW, ZONE)
    assert report.updated["tasks"] == 1
    # Updated in place: no row more but the change's event in the audit trail.
    assert row_counts(database) == counts | {"audit_events": counts["audit_events"] + 1}
    with database.session() as session:
        task = session.exec(select(Task).where(Task.title == "Perform 20 Press-Ups (day 3)")).one()
        assert task.due_time == time(14, 30)


def test_a_seed_that_rewords_a_question_makes_a_revision_and_a_rerun_none(
    database: Database, tmp_path: Path
) -> None:
    apply_seed(database, read(DEMO), NOW, ZONE)
    edited = edited_demo(tmp_path, ("Which side felt harder?", "Which side felt harder today?"))
    counts = row_counts(database)
    later = NOW.replace(hour=10)
    report = apply_seed(database, read(edited), later, ZONE)
    assert report.updated["questions"] == 1
    # One row more, the new revision (and its event); the question itself is the same row.
    assert row_counts(database) == counts | {
        "question_revisions": counts["question_revisions"] + 1,
        "audit_events": counts["audit_events"] + 1,
    }
    with database.session() as session:
        question = session.exec(
            select(Question).where(Question.description == "Which side felt harder today?")
        ).one()
        revisions = session.exec(
            select(QuestionRevision)
            .where(QuestionRevision.question_id == question.id)
            .order_by(QuestionRevision.revision)
        ).all()
    assert question.revision == 2
    assert [(r.revision, r.description, r.created_at) for r in revisions] == [
        (1, "Which side felt harder?", NOW),
        (2, "Which side felt harder today?", later),
    ]

    again = apply_seed(database, read(edited), later, ZONE)
    assert not again.changed
    assert row_counts(database)["question_revisions"] == counts["question_revisions"] + 1


def test_the_cli_says_created_then_unchanged(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")
    assert main(["--config", str(config), "seed", str(DEMO)]) == 0
    first = capsys.readouterr().out
    assert main(["--config", str(config), "seed", str(DEMO)]) == 0
    second = capsys.readouterr().out
    assert "groups: 3 created; consent texts: 1 created;" in first
    assert "nothing changed" in second
    assert "groups: 3 unchanged; consent texts: 1 unchanged;" in second


def test_a_seed_saved_with_a_byte_order_mark_loads(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Windows Notepad starts a UTF-8 file with U+FEFF; that used to be "not valid TOML"."""
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")
    notepad = tmp_path / "demo.toml"
    notepad.write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8-sig")
    assert notepad.read_bytes().startswith(b"\xef\xbb\xbf")
    assert main(["--config", str(config), "seed", str(notepad)]) == 0
    assert "groups: 3 created;" in capsys.readouterr().out


BAD_SEED = """
[[groups]]
name = "Knee"
timezone = "Mars/Olympus"

[[groups]]
name = "Knee"

[[tasks]]
group = "Elbow"
title = "Bend"
due = "2026-13-40 10:00"

  [[tasks.questions]]
  text = "How far?"
  type = "distance"

[[tasks]]
group = "Knee"
title = "Squat"
due = "tomorrow 10:00"
repeat = "fortnightly-ish"

  [[tasks.questions]]
  type = "scale"
  alert = ">= 99"

[[tasks]]
group = "Knee"
title = "squat"
due = "tomorrow 10:00"
colour = "red"

  [[tasks.questions]]
  text = "Pick one"
  type = "choice"
  options = ["Only one"]
"""


def test_a_bad_seed_lists_every_problem_with_its_place_and_key(tmp_path: Path) -> None:
    found = seed_problems(tmp_path, BAD_SEED)
    path = str(tmp_path / "bad.toml")
    assert all(p.startswith(f"{path}: ") for p in found)
    text = "\n".join(found)
    expected = [
        "groups[1].timezone: 'Mars/Olympus' is not an IANA time zone name",
        "groups[2].name: duplicate group name 'Knee'",
        "tasks[1].group: unknown group 'Elbow'",
        "tasks[1].due:",
        "tasks[1].questions[1].type: unknown response type 'distance'",
        "tasks[2].repeat:",
        "tasks[2].questions[1].text: missing",
        "tasks[2].questions[1].alert:",
        "tasks[3].colour: unknown key",
        "tasks[3].title: duplicate title 'squat' in group 'Knee'",
        # A rule's problem names the key it is about, as a single key's problem does.
        "tasks[3].questions[1].options: A choice question needs at least 2 options",
    ]
    for fragment in expected:
        assert fragment in text, f"{fragment!r} not reported in:\n{text}"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[groups]\n", "not valid TOML"),
        ("groups = 3\n", "groups: must be an array of tables"),
        (
            # Unquoted, TOML reads a number or a date: not an empty string.
            '[[groups]]\nname = "A"\n[[tasks]]\ngroup = "A"\ntitle = "T"\ndue = 20261201\n',
            "tasks[1].due: must be text in double quotes (TOML read a number here)",
        ),
        (
            '[[groups]]\nname = "A"\n[[tasks]]\ngroup = "A"\ntitle = "T"\ndue = 2026-12-01\n',
            "tasks[1].due: must be text in double quotes (TOML read a date or time here)",
        ),
        ('[[groups]]\nname = "A"\n[[tasks]]\ngroup = "A"\ntitle = "T"\n', "tasks[1].due: missing"),
        (
            '[[groups]]\nname = "A"\n[[tasks]]\ngroup = "A"\ntitle = "T"\ndue = "today 10:00"\n',
            "tasks[1].questions: a task needs at least one question",
        ),
        (
            '[[groups]]\nname = "A"\n[[tasks]]\ngroup = "A"\ntitle = "T"\ndue = "today 10:00"\n'
            + '[[tasks.questions]]\ntext = "Q"\ntype = "yes_no"\n' * 31,
            "tasks[1].questions: A task can have at most 30 questions.",
        ),
        (  # and the questions' own problems are listed with it
            '[[groups]]\nname = "A"\n[[tasks]]\ngroup = "A"\ntitle = "T"\ndue = "today 10:00"\n'
            + '[[tasks.questions]]\ntext = "Q"\ntype = "distance"\n'
            + '[[tasks.questions]]\ntext = "Q"\ntype = "yes_no"\n' * 30,
            "tasks[1].questions[1].type: unknown response type 'distance'",
        ),
        ("[people]\n", "people: unknown table"),
        ('[[groups]]\nname = "A"\nteam = [9001, "tess"]\n', "groups[1].team: must be a list"),
        ('[[groups]]\nname = "A"\nteam = 9001\n', "groups[1].team: must be a list"),
        (
            '[[groups]]\nname = "A"\nconsent_de = "Ja"\n',
            "groups[1].consent_de: translates the consent text, but the group gives none",
        ),
        (
            '[[groups]]\nname = "A"\nconsent = "Yes"\nconsent_fr = "Oui"\n',
            'groups[1].consent_fr: no language "fr"',
        ),
        (
            f'[[groups]]\nname = "A"\nconsent = "Yes"\nconsent_es = "{"s" * 3501}"\n',
            "groups[1].consent_es: ",
        ),
        # Group names as chat takes them: one a therapist can type back to the bot.
        ('[[groups]]\nname = "1"\n', "groups[1].name: “1” can't be a group name"),
        ('[[groups]]\nname = "Knee | Hip"\n', "groups[1].name: “Knee | Hip” can't be a group"),
        ('[[groups]]\nname = "\u200b"\n', "groups[1].name: Please give the group a name"),
        (
            '[[groups]]\nname = "Knee   Group"\n[[groups]]\nname = "knee group"\n',
            "groups[2].name: duplicate group name 'knee group'",
        ),
    ],
)
def test_each_kind_of_seed_error_is_named(tmp_path: Path, text: str, fragment: str) -> None:
    assert any(fragment in p for p in seed_problems(tmp_path, text))


def test_a_bad_seed_writes_nothing(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")
    bad = tmp_path / "bad.toml"
    # A valid group followed by a broken task: the group must not be written either.
    bad.write_text(
        DEMO.read_text(encoding="utf-8").replace('type = "video"', 'type = "hologram"'),
        encoding="utf-8",
    )
    before = row_counts(database)
    assert main(["--config", str(config), "seed", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "unknown response type 'hologram'" in err
    assert "Nothing was written" in err
    assert row_counts(database) == before


# --- invite codes: strong enough or clearly demo, one whatever their case ---------------------

CODES_SEED = """
[[groups]]
name = "Knee"
invite = "KNEE1"

[[groups]]
name = "Hip"
invite = "HipClinic2026"

[[groups]]
name = "Back"
invite = "hipclinic2026"

[[groups]]
name = "Neck"
invite = "NECK1"
invite_demo = true

[[groups]]
name = "Ankle"
invite_demo = "yes"
"""


def test_a_short_code_or_one_differing_only_in_case_is_refused_with_file_table_and_key(
    tmp_path: Path,
) -> None:
    found = seed_problems(tmp_path, CODES_SEED)
    path = str(tmp_path / "bad.toml")
    assert found == [
        f"{path}: groups[1].invite: 'KNEE1' has 5 characters and can be guessed: use at least "
        "8, or mark a demo group's code with invite_demo = true (the bot then warns about it "
        "in production)",
        f"{path}: groups[3].invite: the same invite code as 'HipClinic2026' of groups[2] "
        "(codes are matched whatever their case, so '/start' could not tell the groups apart)",
        f"{path}: groups[5].invite_demo: must be true or false",
    ]


def test_a_short_code_marked_demo_is_seeded_as_a_demo_code(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "demo.toml"
    path.write_text(
        '[[groups]]\nname = "Neck"\ninvite = "NECK1"\ninvite_demo = true\n\n'
        '[[groups]]\nname = "Back"\ninvite = "BackClinic2026"\n',
        encoding="utf-8",
    )
    apply_seed(database, read(path), NOW, ZONE)
    with database.session() as session:
        demo = {i.code: i.demo for i in session.exec(select(Invite)).all()}
    assert demo == {"NECK1": True, "BackClinic2026": False}


def test_a_task_names_its_group_as_chat_does_whatever_its_case_and_spacing(
    tmp_path: Path,
) -> None:
    """The group's name is kept with its spaces collapsed; its tasks still find it as
    written."""
    path = tmp_path / "spaced.toml"
    path.write_text(
        '[[groups]]\nname = "Knee  Group"\n'
        '[[tasks]]\ngroup = "knee  group"\ntitle = "T"\ndue = "today 10:00"\n'
        '  [[tasks.questions]]\n  text = "Done?"\n  type = "yes_no"\n',
        encoding="utf-8",
    )
    plan = read(path)
    assert [g.name for g in plan.groups] == ["Knee Group"]
    assert [t.group for t in plan.tasks] == ["Knee Group"]


def test_a_group_made_in_chat_is_the_seeds_group_whatever_its_case_and_spacing(
    database: Database,
) -> None:
    with database.session() as session:
        session.add(TherapyGroup(name="shoulder  therapy 1", created_at=NOW))
        session.commit()

    report = apply_seed(database, read(DEMO), NOW, ZONE)

    with database.session() as session:
        names = [g.name for g in session.exec(select(TherapyGroup)).all()]
    assert len(names) == 3, names  # the demo's three, the chat's one among them
    assert "shoulder  therapy 1" in names and "Shoulder Therapy 1" not in names
    assert report.created["groups"] == 2


def test_a_code_seeded_again_in_another_case_is_the_same_invite(
    database: Database, tmp_path: Path
) -> None:
    apply_seed(database, read(DEMO), NOW, ZONE)
    edited = edited_demo(tmp_path, ('"SHOULDER1"', '"Shoulder1"'))
    report = apply_seed(database, read(edited), NOW, ZONE)
    assert report.updated["invites"] == 1 and report.created["invites"] == 0
    with database.session() as session:
        codes = sorted(i.code for i in session.exec(select(Invite)).all())
    assert codes == ["HIP1", "KNEE1", "Shoulder1"]


def test_patientbot_seed_refuses_to_move_a_groups_code_to_another_group(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second file gave a new group the first group's code in another case: the code moved,
    and patients holding the first group's leaflet joined the second (its team saw them)."""
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")
    first, second = tmp_path / "rho.toml", tmp_path / "sigma.toml"
    first.write_text('[[groups]]\nname = "Rho"\ninvite = "RHOCODE123"\n', encoding="utf-8")
    second.write_text(
        '[[groups]]\nname = "Tau"\n\n[[groups]]\nname = "Sigma"\ninvite = "rhocode123"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "seed", str(first)]) == 0
    before = row_counts(database)

    assert main(["--config", str(config), "seed", str(second)]) == 1

    err = capsys.readouterr().err
    assert (
        f"{second}: groups[2].invite: 'rhocode123' is already the invite code of the group "
        "'Rho' in the database; a seed does not move a code to another group"
    ) in err
    assert row_counts(database) == before, "nothing of the file was written (Tau neither)"
    with database.session() as session:
        held = session.exec(
            select(TherapyGroup.name).join(Invite, col(Invite.group_id) == TherapyGroup.id)
        ).all()
    assert held == ["Rho"]


def test_patientbot_seed_refuses_a_short_code_and_takes_it_marked_demo(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")
    seed = tmp_path / "clinic.toml"
    seed.write_text('[[groups]]\nname = "Neck"\ninvite = "NECK1"\n', encoding="utf-8")
    before = row_counts(database)

    assert main(["--config", str(config), "seed", str(seed)]) == 1
    err = capsys.readouterr().err
    assert f"{seed}: groups[1].invite: 'NECK1' has 5 characters and can be guessed" in err
    assert row_counts(database) == before

    seed.write_text(seed.read_text(encoding="utf-8") + "invite_demo = true\n", encoding="utf-8")
    assert main(["--config", str(config), "seed", str(seed)]) == 0
    with database.session() as session:
        assert [(i.code, i.demo) for i in session.exec(select(Invite)).all()] == [("NECK1", True)]


def test_a_seeded_team_puts_its_ids_on_the_group_once(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "teams.toml"
    path.write_text(
        '[[groups]]\nname = "Neck"\nteam = [9001, 555, 9001]\n\n[[groups]]\nname = "Back"\n',
        encoding="utf-8",
    )
    first = apply_seed(database, read(path), NOW, ZONE)
    again = apply_seed(database, read(path), NOW, ZONE)
    with database.session() as session:
        places = session.exec(
            select(TherapyGroup.name, Person.telegram_user_id)
            .join(GroupTherapist, GroupTherapist.group_id == TherapyGroup.id)
            .join(Person, Person.id == GroupTherapist.person_id)
        ).all()
    assert sorted(places) == [("Neck", 555), ("Neck", 9001)]
    assert (first.created["team places"], again.unchanged["team places"]) == (2, 2)
    assert not again.changed


def test_a_consent_text_must_be_text_and_fit_one_message(tmp_path: Path) -> None:
    long_text = "x" * 3501
    found = seed_problems(
        tmp_path,
        '[[groups]]\nname = "Knees"\nconsent = ""\n\n'
        f'[[groups]]\nname = "Hips"\nconsent = "{long_text}"\n\n'
        '[[groups]]\nname = "Backs"\nconsent = 3\n',
    )
    assert [line.split("bad.toml: ", 1)[1] for line in found] == [
        "groups[1].consent: must be a non-empty string",
        "groups[2].consent: must be at most 3500 characters (it has 3501)",
        "groups[3].consent: must be text in double quotes (TOML read a number here)",
    ]


def test_a_changed_consent_text_seeded_again_is_the_next_version(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "knees.toml"
    path.write_text('[[groups]]\nname = "Knees"\nconsent = "First."\n', encoding="utf-8")
    apply_seed(database, read(path), NOW, ZONE)
    # Without the key the group's text stays as it is (a therapist may have set it).
    path.write_text('[[groups]]\nname = "Knees"\n', encoding="utf-8")
    apply_seed(database, read(path), NOW, ZONE)
    path.write_text('[[groups]]\nname = "Knees"\nconsent = "Second."\n', encoding="utf-8")
    report = apply_seed(database, read(path), NOW, ZONE)

    assert report.updated["consent texts"] == 1
    with database.session() as session:
        versions = session.exec(
            select(ConsentVersion.version, ConsentVersion.text).order_by(ConsentVersion.version)
        ).all()
        actions = session.exec(select(AuditEvent.action, AuditEvent.actor_role)).all()
    assert [tuple(v) for v in versions] == [(1, "First."), (2, "Second.")]
    assert [tuple(a) for a in actions] == [
        ("group_created", "operator"),
        ("consent_changed", "operator"),
        ("consent_changed", "operator"),
    ]


def test_a_seed_leaves_an_event_for_each_change_a_clinic_accounts_for(
    database: Database, tmp_path: Path
) -> None:
    """A re-seed that drops a pain alert, moves a task, gives someone a team place, limits an
    invite's uses and drops a question: the trail said nothing of it, only of consent texts."""
    apply_seed(database, read(DEMO), NOW, ZONE)
    with database.session() as session:
        first = session.exec(select(AuditEvent.action)).all()
    assert first.count("group_created") == 3 and first.count("task_created") >= 4
    assert "question_created" not in first, "a new task's questions are in its own event"

    edited = edited_demo(
        tmp_path,
        ('  type = "scale"\n  alert = ">= 8"\n', '  type = "scale"\n'),
        ('due = "today 18:00"', 'due = "today 19:00"'),
        ('invite = "HIP1"', 'invite = "HIP1"\ninvite_max_uses = 10\nteam = [555]'),
        (
            '  text = "Anything you want your therapist to know?"',
            '  text = "Anything else about your shoulder?"',
        ),
    )
    apply_seed(database, read(edited), NOW, ZONE)
    apply_seed(database, read(edited), NOW, ZONE)  # the same file again: nothing more

    with database.session() as session:
        events = session.exec(
            select(AuditEvent).where(col(AuditEvent.id) > len(first)).order_by(AuditEvent.id)
        ).all()
    assert [(e.action, e.actor_role) for e in events] == [
        ("invite_edited", "operator"),
        ("team_member_added", "operator"),
        ("task_edited", "operator"),
        ("question_edited", "operator"),
        ("question_edited", "operator"),
    ]
    invite, team, task, alert, wording = events
    assert (invite.before, invite.after) == ({"max_uses": None}, {"max_uses": 10})
    assert team.after == {"telegram_user_id": 555}
    assert (task.before, task.after) == ({"due_time": "18:00"}, {"due_time": "19:00"})
    assert (alert.before, alert.after) == ({"alert_rule": ">= 8"}, {"alert_rule": None})
    assert wording.after == {"description": "Anything else about your shoulder?", "revision": 2}


# --- content in other languages: title_de, text_de, options_de, link_de -----------------------

TRANSLATED = """
[[groups]]
name = "Hip"

[[tasks]]
group = "Hip"
title = "Hips"
title_fr = "Hanches"
due = "today 10:00"

  [[tasks.questions]]
  text = "Which side?"
  text_de = "Welche Seite?"
  text_klingon = "?"
  type = "choice"
  options = ["Left", "Right", "Both"]
  options_de = ["Links", "Rechts"]
  options_es = ["Izquierdo", "Izquierdo", "Ambos"]
  link_de = "https://example.org/de"

  [[tasks.questions]]
  text = "Watch this"
  type = "yes_no"
  link = "https://example.org/en"
  link_es = "example.org/es"
  options_de = ["Ja", "Nein"]
  description_de = "Sehen Sie sich das an"
"""


def test_a_translation_problem_names_file_key_and_what_is_wrong(tmp_path: Path) -> None:
    found = seed_problems(tmp_path, TRANSLATED)
    path = str(tmp_path / "bad.toml")
    assert all(p.startswith(f"{path}: ") for p in found)
    text = "\n".join(p.removeprefix(f"{path}: ") for p in found)
    for line in [
        'tasks[1].title_fr: no language "fr": translations are for the languages the bot speaks '
        "(en, de, es)",
        'tasks[1].questions[1].text_klingon: no language "klingon"',
        "tasks[1].questions[1].options_de: must translate each of the 3 options, in order "
        "(it has 2)",
        "tasks[1].questions[1].options_es: ",
        "tasks[1].questions[1].link_de: translates link, which this question does not have",
        "tasks[1].questions[2].link_es: ",
        "tasks[1].questions[2].options_de: translates options, which this question does not have",
        "tasks[1].questions[2].description_de: unknown key (allowed: ",
    ]:
        assert line in text, f"{line!r} not reported in:\n{text}"
    # The same option twice is refused in a translation as in the original.
    assert "options_es: " in text and "Izquierdo" in text
    assert "text_<en|de|es>" in text  # the unknown key's message shows how to translate


def _question(session: Any, text: str) -> Question:
    return session.exec(select(Question).where(Question.description == text)).one()


def _revisions(session: Any, question: Question) -> list[QuestionRevision]:
    return list(
        session.exec(
            select(QuestionRevision)
            .where(QuestionRevision.question_id == question.id)
            .order_by(QuestionRevision.revision)
        ).all()
    )


def test_the_demo_stores_its_translations_on_the_task_the_question_and_its_revision(
    database: Database,
) -> None:
    apply_seed(database, read(DEMO), NOW, ZONE)
    with database.session() as session:
        hip = session.exec(select(Task).where(Task.title == "Hip mobility session")).one()
        assert hip.translations == {
            "de": {"title": "Übungseinheit Hüftbeweglichkeit"},
            "es": {"title": "Sesión de movilidad de cadera"},
        }
        side = _question(session, "Which side felt harder?")
        assert side.options == ["Left", "Right", "Both the same"]
        assert side.translations is not None
        assert side.translations["de"] == {
            "text": "Welche Seite ist Ihnen schwerer gefallen?",
            "options": ["Links", "Rechts", "Beide gleich"],
        }
        assert [r.translations for r in _revisions(session, side)] == [side.translations]
        # A task the seed does not translate has none.
        form = session.exec(select(Task).where(Task.title == "Weekly form check")).one()
        assert form.translations is None


def test_a_changed_translation_is_updated_in_place_without_a_new_revision(
    database: Database, tmp_path: Path
) -> None:
    apply_seed(database, read(DEMO), NOW, ZONE)
    edited = edited_demo(
        tmp_path,
        ('"Beide gleich"', '"Beide Seiten gleich"'),
        ('title_es = "Sesión de movilidad de cadera"', 'title_es = "Movilidad de cadera"'),
    )
    counts = row_counts(database)
    report = apply_seed(database, read(edited), NOW.replace(hour=10), ZONE)
    assert (report.updated["questions"], report.updated["tasks"]) == (1, 1)
    assert report.deliveries_planned == 0
    assert row_counts(database) == counts  # no revision, no delivery
    with database.session() as session:
        side = _question(session, "Which side felt harder?")
        assert side.revision == 1
        assert side.translations is not None
        assert side.translations["de"]["options"] == ["Links", "Rechts", "Beide Seiten gleich"]
        assert [r.translations for r in _revisions(session, side)] == [side.translations]
        hip = session.exec(select(Task).where(Task.title == "Hip mobility session")).one()
        assert hip.translations is not None
        assert hip.translations["es"] == {"title": "Movilidad de cadera"}
    assert not apply_seed(database, read(edited), NOW, ZONE).changed


def test_a_new_wording_is_a_revision_with_the_translations_the_file_gives(
    database: Database, tmp_path: Path
) -> None:
    apply_seed(database, read(DEMO), NOW, ZONE)
    # The English and the German are reworded together; the Spanish is left as it was.
    edited = edited_demo(
        tmp_path,
        ('text = "Which side felt harder?"', 'text = "Which side was harder today?"'),
        (
            'text_de = "Welche Seite ist Ihnen schwerer gefallen?"',
            'text_de = "Welche Seite ist Ihnen heute schwerer gefallen?"',
        ),
    )
    apply_seed(database, read(edited), NOW.replace(hour=10), ZONE)
    with database.session() as session:
        side = _question(session, "Which side was harder today?")
        first, second = _revisions(session, side)
    assert side.revision == 2
    # The old revision keeps what patients answered in German and Spanish.
    assert first.translations is not None and second.translations is not None
    assert first.translations["es"]["text"] == "¿Qué lado le ha costado más?"
    assert second.translations == side.translations
    assert second.translations["de"]["text"] == "Welche Seite ist Ihnen heute schwerer gefallen?"
    # The file is the truth: its author keeps a translation by leaving it there.
    assert second.translations["es"]["text"] == "¿Qué lado le ha costado más?"


def test_a_new_wording_made_in_chat_drops_the_translations_of_what_changed(
    database: Database,
) -> None:
    """/edittask rewords through ``revise`` and gives no translations: a German patient must
    not go on reading the old question in German, so the changed field's translations go; the
    others stay."""
    apply_seed(database, read(DEMO), NOW, ZONE)
    with database.session() as session:
        side = _question(session, "Which side felt harder?")
        assert revise(
            session,
            side,
            {"description": "Which side was harder today?", "options": side.options},
            NOW.replace(hour=10),
        )
        session.commit()
        first, second = _revisions(session, side)
    assert first.translations is not None and first.translations["de"]["text"]
    assert (
        second.translations
        == side.translations
        == {
            "de": {"options": ["Links", "Rechts", "Beide gleich"]},
            "es": {"options": ["Izquierdo", "Derecho", "Los dos por igual"]},
        }
    )
