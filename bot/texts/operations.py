"""What operators read: the command line, health and start-up, scheduling, the
playground, faults, outages and security refusals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.texts.language import _, ngettext

if TYPE_CHECKING:
    from bot.services.seeding import SeedReport


# --- command line -------------------------------------------------------------------------


def cli_no_token(source: str) -> str:
    return _(
        "No Telegram bot token is configured, so the bot cannot connect to "
        "Telegram.\n"
        "1. In Telegram, talk to @BotFather and send /newbot; it answers with "
        "a token such as 123456789:AA...\n"
        "2. Put it in the environment:  export "
        "TELEGRAM_BOT_TOKEN=123456789:AA...\n"
        '   or in {source} under [telegram] token = "..."\n'
        "3. Run the same command again."
    ).format(source=source)


def cli_database_unreachable(where: str, error: Exception) -> str:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    return _(
        "Cannot use the database at {where}: {reason}\n"
        "Check [database] url in the configuration (or "
        "PATIENTBOT_DATABASE_URL) and that the database server is running."
    ).format(where=where, reason=reason)


def cli_tls_store_unreadable(certificate_file: str | None, reason: str) -> str:
    """``certificate_file``: SSL_CERT_FILE's value, None for the built-in store."""
    if certificate_file is None:
        return _(
            "Cannot load the built-in certificate authorities that vouch for the Bot API "
            "server: {reason}\nReinstall patientbot, or name a file of certificates to trust "
            "in SSL_CERT_FILE."
        ).format(reason=reason)
    return _(
        "Cannot load the certificate authorities that vouch for the Bot API server from "
        "SSL_CERT_FILE={file}: {reason}\nSSL_CERT_FILE names a file of certificates to "
        "trust (PEM), and SSL_CERT_DIR is not read while it is set; unset it to use the "
        "built-in ones."
    ).format(file=certificate_file, reason=reason)


def cli_database_in_use(where: str, pid: int | None) -> str:
    return _(
        "Another patientbot (process {pid}) is already running on the database at "
        "{where}. A SQLite database serves one bot process: stop that one first, or move "
        "to PostgreSQL to run several instances on one database."
    ).format(where=where, pid=pid if pid is not None else "?")


def cli_migrating_under_a_running_bot(where: str, pid: int | None) -> str:
    return _(
        "A patientbot (process {pid}) is running on the database at {where}. Stop it "
        "before changing the database's migrations: it would go on with tables it was not "
        "built for."
    ).format(where=where, pid=pid if pid is not None else "?")


def cli_no_database(path: str) -> str:
    return _(
        "There is no database at {path}, so there is nothing to read.\n"
        "Check [database] url (or PATIENTBOT_DATABASE_URL, or --config); "
        "patientbot run or patientbot db upgrade creates a new one."
    ).format(path=path)


def cli_unversioned_database(where: str) -> str:
    return _(
        "The database at {where} already has tables but no migration record, "
        "so it was not made by patientbot's migrations and patientbot will not "
        "touch it.\n"
        "Point [database] url (or PATIENTBOT_DATABASE_URL) at an empty "
        "database, then run: patientbot db upgrade"
    ).format(where=where)


def cli_unknown_revision(where: str, current: str, head: str) -> str:
    return _(
        "The database at {where} is at migration revision {current}, which "
        "this version of patientbot does not know (its newest is {head}). It "
        "was probably upgraded by a newer version. Run that newer version, or "
        "restore a backup made before the upgrade."
    ).format(where=where, current=current, head=head)


def cli_database_behind(where: str, current: str | None, head: str) -> str:
    state = _("at revision {current}").format(current=current) if current else "empty"
    return _(
        "The database at {where} is {state}, but this version of patientbot "
        "needs revision {head}, and auto_migrate is off.\n"
        "Run: patientbot db upgrade"
    ).format(where=where, state=state, head=head)


def cli_upgraded(current: str | None, head: str) -> str:
    return _("Database upgraded from {value} to revision {head}").format(
        value=current or "empty", head=head
    )


def cli_upgrade_done(where: str, before: str | None, head: str) -> str:
    if before == head:
        return _("The database at {where} is already at the newest revision, {head}.").format(
            where=where, head=head
        )
    return _("Upgraded the database at {where} from {value} to revision {head}.").format(
        where=where, value=before or "empty", head=head
    )


def cli_current(where: str, current: str | None, head: str) -> str:
    if current is None:
        return _(
            "The database at {where} has no migration applied yet (newest is {head})."
        ).format(where=where, head=head)
    if current == head:
        return _("The database at {where} is at revision {current} (the newest).").format(
            where=where, current=current
        )
    return _("The database at {where} is at revision {current}; the newest is {head}.").format(
        where=where, current=current, head=head
    )


def cli_check_not_current(where: str, current: str | None, head: str) -> str:
    return _(
        "The database at {where} is at revision {value}, not the newest "
        "({head}). Run: patientbot db upgrade"
    ).format(where=where, value=current or "none", head=head)


def cli_check_differences(where: str, differences: list[str]) -> str:
    lines = "\n".join(f"  {d}" for d in differences)
    return _(
        "The database at {where} and the models disagree; a migration is missing:\n{lines}"
    ).format(where=where, lines=lines)


def cli_check_ok(where: str, head: str) -> str:
    return _("OK: the database at {where} is at revision {head} and matches the models.").format(
        where=where, head=head
    )


def cli_seed_rejected(count: int) -> str:
    return ngettext(
        "Nothing was written: fix the {count} problem above and seed again.",
        "Nothing was written: fix the {count} problems above and seed again.",
        count,
    ).format(count=count)


def cli_seed_report(path: str, report: SeedReport) -> str:
    created, updated, unchanged = report.created, report.updated, report.unchanged
    kinds = ["groups", "consent texts", "invites", "team places", "tasks", "questions"]

    def part(kind: str) -> str:
        counts = [
            _("{created} created").format(created=created[kind]) if created[kind] else "",
            _("{updated} updated").format(updated=updated[kind]) if updated[kind] else "",
            _("{unchanged} unchanged").format(unchanged=unchanged[kind])
            if unchanged[kind]
            else "",
        ]
        return f"{kind}: " + ", ".join(c for c in counts if c) if any(counts) else ""

    summary = "; ".join(p for p in (part(k) for k in kinds) if p)
    if not report.changed:
        return _("Seeded {path}: nothing changed ({summary}).").format(path=path, summary=summary)
    return _("Seeded {path}: {summary}; {deliveries_planned} deliveries planned.").format(
        path=path, summary=summary, deliveries_planned=report.deliveries_planned
    )


# --- deployment: health endpoint and start-up in polling or webhook mode --------------------


def health_database_unreachable(error: Exception) -> str:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    return _("unreachable: {value}").format(value=reason[0] if reason else type(error).__name__)


def health_database_timeout(seconds: float) -> str:
    return _("unreachable: no answer within {seconds:g} seconds").format(seconds=seconds)


def health_revision_not_head(revision: str | None, head: str) -> str:
    return _(
        "the database is at migration revision {value}, this version needs "
        "{head}; run: patientbot db upgrade"
    ).format(value=revision or "none", head=head)


def health_scan_lagging(lag: float, limit: float) -> str:
    return _("the due scan last finished {lag:.0f} seconds ago (more than {limit:g})").format(
        lag=lag, limit=limit
    )


def health_scan_never_ran(limit: float) -> str:
    return _("the due scan has not finished once in the {limit:g} seconds since start").format(
        limit=limit
    )


def health_writes_failing(count: int, reason: str) -> str:
    return _("the last {count} writes to the database failed: {reason}").format(
        count=count, reason=reason
    )


def health_inbox_stuck(pending: int, seconds: float) -> str:
    return _(
        "{pending} received updates wait to be handled, the oldest for {seconds:.0f} seconds"
    ).format(pending=pending, seconds=seconds)


def deploy_webhook_needs(problem: str) -> str:
    return _("Webhook mode cannot start: {problem}").format(problem=problem)


def deploy_token_refused(source: str) -> str:
    return _(
        "Telegram refused the bot token. Check TELEGRAM_BOT_TOKEN (or "
        "[telegram] token in {source}) against the token @BotFather gave you."
    ).format(source=source)


def deploy_telegram_unreachable(base_url: str, error: Exception) -> str:
    return _(
        "Cannot reach the Telegram Bot API at {base_url}: {error}\n"
        "Check the network, or [telegram] api_base_url (TELEGRAM_API_BASE_URL)."
    ).format(base_url=base_url, error=error)


# --- playground ---------------------------------------------------------------------------
# Printed to the terminal by bot/playground when `patientbot run` finds no token.


def playground_started(url: str) -> str:
    return _(
        "\n"
        "Until then, try the whole bot without Telegram, in your browser:\n"
        "Playground: open {url} and be the therapist or one of the patients "
        "(Alice, Bob, Chloe).\n"
        "Simulated time moves only when you press +1 hour or +1 day on the "
        "page. Press Ctrl+C here to stop."
    ).format(url=url)


def playground_port_taken(host: str, port: int, error: OSError) -> str:
    return _(
        "The playground cannot listen on {host}:{port}: {value}.\n"
        "Stop whatever uses that port, or choose another under [playground] "
        "port in the configuration."
    ).format(host=host, port=port, value=error.strerror or error)


# The page has no 📎: its own buttons beside the message box send a sample photo or video.
def playground_hint_photo() -> str:
    return _(
        "Please send a photo (press the camera button beside the message box: "
        "it sends a sample picture)."
    )


def playground_hint_video() -> str:
    return _(
        "Please send a video (press the video camera button beside the message box: "
        "it sends a sample clip)."
    )


def playground_stopped() -> str:
    return _("Playground stopped.")


# --- hardening: faults and outages ---------------------------------------------------------


def hardening_reply_lost() -> str:
    # Telegram failed us after the use case committed: the answer is stored, only the reply
    # went missing, so "nothing was changed" would be wrong here.
    return _(
        "Sorry, my reply did not get through. Anything you answered is saved: "
        "send /tasks to carry on where you left off."
    )


# --- hardening: security -------------------------------------------------------------------


def hardening_too_long_to_repeat() -> str:
    # The reply would have quoted what was sent, and that made it longer than Telegram allows.
    return _(
        "What you sent is too long for me to quote back, so nothing was changed. "
        "Please check it and send it again, shorter."
    )
