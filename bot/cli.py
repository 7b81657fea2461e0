"""The ``patientbot`` command: run, db (upgrade/current/check), seed, export, import."""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from bot import texts
from bot.clock import SystemClock
from bot.collector import collector_paused
from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from bot.services.audit import OPERATOR
from bot.services.meaning import Meaning
from storage.db import (
    Database,
    DatabaseInUse,
    SchemaState,
    SchemaStatus,
    head_revision,
    schema_status,
    upgrade,
)
from storage.errors import MigrationRefused

if TYPE_CHECKING:
    import ssl
    from concurrent.futures import Future

log = logging.getLogger("patientbot")


class CommandError(Exception):
    """A problem the person at the terminal can fix; printed without a traceback."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patientbot",
        description="Telegram bot for physiotherapy home-exercise check-ins.",
    )
    config_help = "configuration file (default: $PATIENTBOT_CONFIG or ./config.toml)"
    parser.add_argument("--config", metavar="FILE", help=config_help)
    # Taken after the command too ("patientbot export --config FILE ..."), as people type it;
    # not given there, the one before the command (or none) stands.
    config_too = argparse.ArgumentParser(add_help=False)
    config_too.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS, help=config_help
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "run",
        parents=[config_too],
        help="migrate the database if allowed, then run the bot",
        description="Check (and with auto_migrate, upgrade) the database, then run the bot "
        "in the configured mode (polling or webhook).",
    )
    db = commands.add_parser(
        "db", parents=[config_too], help="database migrations: upgrade, current, check"
    )
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser(
        "upgrade", parents=[config_too], help="upgrade the database to this version's schema"
    )
    db_commands.add_parser(
        "current", parents=[config_too], help="show the database's migration revision"
    )
    db_commands.add_parser(
        "check",
        parents=[config_too],
        help="check that the database, the migrations and the models agree",
    )
    seed = commands.add_parser(
        "seed",
        parents=[config_too],
        help="load groups, tasks, questions and invites from a TOML file",
        description="Validate the whole file, then create or update what it describes. "
        "Seeding the same file twice changes nothing.",
    )
    seed.add_argument("file", type=Path, help="seed file, for example seed_data/demo.toml")
    export = commands.add_parser(
        "export",
        parents=[config_too],
        help="write every answer to a CSV or FHIR file (the same file as /export in Telegram)",
        description="CSV: one row per answer, UTF-8 with a header row and standard quoting. "
        "FHIR: one R4B Bundle (JSON) of Questionnaires, QuestionnaireResponses and Patients.",
    )
    export.add_argument("--group", metavar="NAME", help="only this group (name or number)")
    export.add_argument(
        "--format", choices=("csv", "fhir"), default="csv", help="file format (default: csv)"
    )
    export.add_argument("--out", metavar="FILE", type=Path, required=True, help="output file")
    audit = commands.add_parser(
        "audit",
        parents=[config_too],
        help="write the audit trail (who changed what, when) to a CSV file",
        description="One row per event, oldest first: when, who (Telegram id and role), the "
        "action, its object and group, and the fields before and after as JSON.",
    )
    audit.add_argument("--out", metavar="FILE", type=Path, required=True, help="output file")
    imports = commands.add_parser(
        "import-questionnaire",
        parents=[config_too],
        help="create a task from a FHIR Questionnaire (JSON)",
        description="Read a FHIR R4B Questionnaire and create a task with its questions. "
        "Items that cannot be mapped are listed, and then nothing is written.",
    )
    imports.add_argument("file", type=Path, help="Questionnaire JSON file")
    imports.add_argument("--group", metavar="NAME", required=True, help="the task's group")
    imports.add_argument(
        "--due", metavar="WHEN", required=True, help='first due time, e.g. "tomorrow 09:00"'
    )
    imports.add_argument(
        "--repeat", metavar="RULE", help='e.g. "daily", "mon,wed,fri x6" (default: once)'
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    setup_logging(
        settings.logging.level,
        settings.logging.format,
        [
            settings.telegram.token.get_secret_value(),
            settings.telegram.webhook_secret.get_secret_value(),
            settings.privacy.erasure_key.get_secret_value(),
        ],
    )
    try:
        if args.command == "run":
            return _run(settings)
        if args.command == "db":
            return _db(settings, args.db_command)
        if args.command == "seed":
            return _seed(settings, args.file)
        if args.command == "export":
            return _export(settings, args.group, args.out, fhir=args.format == "fhir")
        if args.command == "audit":
            return _audit(settings, args.out)
        if args.command == "import-questionnaire":
            return _import_questionnaire(settings, args.file, args.group, args.due, args.repeat)
    except CommandError as error:
        print(error, file=sys.stderr)
        return 1
    except MigrationRefused as error:
        # A migration met data it cannot carry over; it changed nothing and says what to do.
        print(error, file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        print(texts.cli_database_unreachable(_safe_url(settings), error), file=sys.stderr)
        return 1
    return 2


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database.url).render_as_string(hide_password=True)


def _existing_database(settings: Settings) -> None:
    """For a command that only reads: a SQLite file that is not there is a wrong path (or a
    config not read), not a database to create; made and migrated, it answered an export with
    "Wrote 0 answers" as if that were the clinic's data."""
    from sqlalchemy.engine import make_url

    from storage.db import is_sqlite

    if not is_sqlite(settings.database.url):
        return
    path = make_url(settings.database.url).database
    if path and path != ":memory:" and not Path(path).is_file():
        raise CommandError(texts.cli_no_database(path))


def ensure_schema(settings: Settings, database: Database) -> SchemaStatus:
    """Bring the database to the head revision, or explain why the bot will not start."""
    status = schema_status(database.engine)
    where = _safe_url(settings)
    if status.state is SchemaState.CURRENT:
        return status
    if status.state is SchemaState.UNVERSIONED:
        raise CommandError(texts.cli_unversioned_database(where))
    if status.state is SchemaState.UNKNOWN_REVISION:
        raise CommandError(texts.cli_unknown_revision(where, status.current or "?", status.head))
    if not settings.database.auto_migrate:
        raise CommandError(texts.cli_database_behind(where, status.current, status.head))
    # Not under a running bot (a seed or export of a newer version beside an older bot).
    with _held_for_migrating(settings, database):
        upgrade(settings.database.url)
    log.info(texts.cli_upgraded(status.current, status.head))
    return schema_status(database.engine)


@contextmanager
def _held_for_migrating(settings: Settings, database: Database) -> Iterator[None]:
    """The database alone for a migration, and longer only where the process held it before
    (``run``)."""
    held_before = database.held_alone
    _hold_alone(settings, database, migrating=True)
    try:
        yield
    finally:
        if not held_before:
            database.let_go_alone()


def _hold_alone(settings: Settings, database: Database, *, migrating: bool = False) -> None:
    """This process alone on its SQLite database (``SoleProcessLock``), or a sentence saying
    which process has it."""
    try:
        database.hold_alone()
    except DatabaseInUse as error:
        where = _safe_url(settings)
        if migrating:
            raise CommandError(texts.cli_migrating_under_a_running_bot(where, error.pid)) from None
        raise CommandError(texts.cli_database_in_use(where, error.pid)) from None


def _run(settings: Settings) -> int:
    database = Database(settings.database.url)
    try:
        # Before the schema check: an automatic migration must not run under a living bot.
        _hold_alone(settings, database)
        ensure_schema(settings, database)
        if not settings.telegram.has_token:
            # Nothing to connect to: show the bot in a local page instead, and say how to
            # get a token (bot.playground prints both).
            from bot.playground import run_playground

            return run_playground(settings, database)
        # Building imports too (httpx's transports), and all of it lives as long as the bot.
        with collector_paused(then_freeze=True):
            from bot.tls import tls_context_ahead

            tls_context = tls_context_ahead()
            from bot.app import build_application, serving_runtime
            from bot.webhook import StartError, serve, webhook_options

            if settings.telegram.mode == "webhook":
                # Refuse before anything listens: an open webhook would take updates from
                # anyone.
                try:
                    webhook_options(settings)
                except ValueError as error:
                    raise CommandError(str(error)) from None
            application = build_application(
                settings, database=database, tls_context=_loaded(tls_context)
            )
        try:
            with serving_runtime():
                serve(application, settings)
        except StartError as error:
            raise CommandError(str(error)) from None
    finally:
        database.dispose()
    return 0


def _loaded(tls_context: Future[ssl.SSLContext]) -> ssl.SSLContext:
    try:
        return tls_context.result()
    except OSError as error:  # ssl.SSLError too: a file that holds no certificate
        # Only a file fails here: OpenSSL opens an SSL_CERT_DIR folder at the first handshake,
        # where a wrong one shows as a certificate that cannot be verified.
        reason = re.sub(r"\s*\(_ssl\.c:\d+\)$", "", error.strerror or str(error))
        raise CommandError(
            texts.cli_tls_store_unreadable(os.environ.get("SSL_CERT_FILE") or None, reason)
        ) from None


def _db(settings: Settings, action: str) -> int:
    if action != "upgrade":
        _existing_database(settings)
    database = Database(settings.database.url)
    try:
        where = _safe_url(settings)
        if action == "upgrade":
            before = schema_status(database.engine)
            if before.state is SchemaState.UNVERSIONED:
                raise CommandError(texts.cli_unversioned_database(where))
            if before.state is SchemaState.UNKNOWN_REVISION:
                raise CommandError(
                    texts.cli_unknown_revision(where, before.current or "?", before.head)
                )
            # At the head it changes nothing, beside a running bot too (the image's start).
            at_head = before.state is SchemaState.CURRENT
            with nullcontext() if at_head else _held_for_migrating(settings, database):
                upgrade(settings.database.url)
            print(texts.cli_upgrade_done(where, before.current, before.head))
            return 0
        status = schema_status(database.engine)
        if action == "current":
            print(texts.cli_current(where, status.current, status.head))
            return 0
        return _check(settings, database, status)
    finally:
        database.dispose()


def _check(settings: Settings, database: Database, status: SchemaStatus) -> int:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    from storage.models import unreflectable_indexes_ignored

    where = _safe_url(settings)
    # The advice "run db upgrade" holds only for a database that is behind: upgrade refuses
    # one not made by our migrations, or at a revision it does not know, and says why.
    if status.state is SchemaState.UNVERSIONED:
        print(texts.cli_unversioned_database(where))
        return 1
    if status.state is SchemaState.UNKNOWN_REVISION:
        print(texts.cli_unknown_revision(where, status.current or "?", status.head))
        return 1
    if status.state is not SchemaState.CURRENT:
        print(texts.cli_check_not_current(where, status.current, status.head))
        return 1
    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        with unreflectable_indexes_ignored():
            differences = compare_metadata(context, SQLModel.metadata)
    if differences:
        print(texts.cli_check_differences(where, [str(d) for d in differences]))
        return 1
    print(texts.cli_check_ok(where, head_revision()))
    return 0


def _seed(settings: Settings, path: Path) -> int:
    from bot.services.seeding import SeedError, apply_seed, read_seed

    database = Database(settings.database.url)
    try:
        ensure_schema(settings, database)
        clock = SystemClock()
        now = clock.now()

        def today_in(zone: ZoneInfo) -> date:
            return now.astimezone(zone).date()

        try:
            plan = read_seed(path, today_in, settings.scheduler.default_timezone)
            report = apply_seed(database, plan, now, settings.scheduler.default_timezone)
        except SeedError as error:
            for problem in error.problems:
                print(texts.seed_problem(problem), file=sys.stderr)
            print(texts.cli_seed_rejected(len(error.problems)), file=sys.stderr)
            return 1
        print(texts.cli_seed_report(str(path), report))
        return 0
    finally:
        database.dispose()


def _print_problems(problems: list[Meaning]) -> None:
    # The sentences are written for Telegram's HTML; these go to a terminal.
    lines = "\n".join(texts.words(problem) for problem in problems)
    print(html.unescape(re.sub(r"<[^>]+>", "", lines)), file=sys.stderr)


def _import_questionnaire(
    settings: Settings, path: Path, group: str, due: str, repeat: str | None
) -> int:
    from bot.services.authoring import AuthoringError
    from bot.services.fhir import import_questionnaire

    try:
        source = path.read_bytes()
    except OSError as error:
        raise CommandError(texts.cli_cannot_read(str(path), error)) from None
    database = Database(settings.database.url)
    try:
        ensure_schema(settings, database)
        try:
            result = import_questionnaire(
                database,
                SystemClock().now(),
                settings.scheduler.default_timezone,
                settings.checkins.expiry_minutes,
                source,
                group,
                due,
                repeat,
                actor=OPERATOR,
                source_name=str(path),
            )
        except AuthoringError as error:
            _print_problems(error.problems)
            print(texts.cli_questionnaire_rejected(len(error.problems)), file=sys.stderr)
            return 1
        _print_plain(texts.cli_questionnaire_imported(result.saved, result.removed_left_out))
        return 0
    finally:
        database.dispose()


def _print_plain(text: str) -> None:
    print(html.unescape(re.sub(r"<[^>]+>", "", text)))


def _export(settings: Settings, group: str | None, out: Path, fhir: bool = False) -> int:
    """Write the CSV (or the FHIR bundle) that /export sends, and say what it holds."""
    from bot.services.authoring import AuthoringError

    _existing_database(settings)
    # Opened first: a path that cannot be written fails before the database is touched, and
    # before the export is recorded in the audit trail as data that left the system.
    with _Output(out) as output:
        database = Database(settings.database.url)
        try:
            ensure_schema(settings, database)
            now, zone = SystemClock().now(), settings.scheduler.default_timezone
            try:
                if fhir:
                    from bot.services.fhir import export_fhir

                    bundle = export_fhir(database, now, zone, group, actor=OPERATOR)
                    content = bundle.content
                    done = texts.admin_cli_exported_fhir(
                        bundle.responses, bundle.patients, bundle.questionnaires, str(out)
                    )
                else:
                    from bot.services.reports import export_csv

                    table = export_csv(database, now, zone, group, actor=OPERATOR)
                    content = table.content
                    done = texts.admin_cli_exported(table.rows, str(out))
            except AuthoringError as error:
                _print_problems(error.problems)
                return 1
            output.write(content)
            print(done)
            return 0
        finally:
            database.dispose()


class _Output:
    """``out`` written whole or not at all: into a file beside it, opened before any other
    work (so an unwritable path is said first) and put in its place once complete. A command
    that fails leaves a file of that name as it was. The file is the operator's alone (0600)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.partial = out.with_name(f".{out.name}.partial")
        if out.is_dir():
            raise CommandError(
                texts.admin_cli_cannot_write(str(out), IsADirectoryError(21, "Is a directory"))
            )
        try:
            # Patients' health answers: readable by the operator alone, whatever the umask.
            descriptor = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self.handle = os.fdopen(descriptor, "wb")
        except OSError as error:
            raise CommandError(texts.admin_cli_cannot_write(str(out), error)) from None

    def write(self, content: bytes) -> None:
        try:
            self.handle.write(content)
            self.handle.close()
            os.replace(self.partial, self.out)
        except OSError as error:
            raise CommandError(texts.admin_cli_cannot_write(str(self.out), error)) from None

    def __enter__(self) -> _Output:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()
        self.partial.unlink(missing_ok=True)


def _audit(settings: Settings, out: Path) -> int:
    """Write the whole audit trail as CSV, and say how many events it holds."""
    from bot.services.audit_view import audit_csv

    _existing_database(settings)
    with _Output(out) as output:
        database = Database(settings.database.url)
        try:
            ensure_schema(settings, database)
            content, events = audit_csv(database)
            output.write(content.encode("utf-8"))
            print(texts.cli_audit_written(events, str(out)))
            return 0
        finally:
            database.dispose()
