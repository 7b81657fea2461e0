"""What operators read: the command line, health and start-up, scheduling, the
playground, faults, outages and security refusals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.services.seeding import SeedReport


# --- command line -------------------------------------------------------------------------


def cli_no_token(source: str) -> str:
    return (
        "No Telegram bot token is configured, so the bot cannot connect to Telegram.\n"
        "1. In Telegram, talk to @BotFather and send /newbot; it answers with a token "
        "such as 123456789:AA...\n"
        "2. Put it in the environment:  export TELEGRAM_BOT_TOKEN=123456789:AA...\n"
        f'   or in {source} under [telegram] token = "..."\n'
        "3. Run the same command again."
    )


def cli_database_unreachable(where: str, error: Exception) -> str:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    return (
        f"Cannot use the database at {where}: {reason}\n"
        "Check [database] url in the configuration (or PATIENTBOT_DATABASE_URL) and that "
        "the database server is running."
    )


def cli_unversioned_database(where: str) -> str:
    return (
        f"The database at {where} already has tables but no migration record, so it was not "
        "made by patientbot's migrations and patientbot will not touch it.\n"
        "Point [database] url (or PATIENTBOT_DATABASE_URL) at an empty database, then run: "
        "patientbot db upgrade"
    )


def cli_unknown_revision(where: str, current: str, head: str) -> str:
    return (
        f"The database at {where} is at migration revision {current}, which this version of "
        f"patientbot does not know (its newest is {head}). It was probably upgraded by a newer "
        "version. Run that newer version, or restore a backup made before the upgrade."
    )


def cli_database_behind(where: str, current: str | None, head: str) -> str:
    state = f"at revision {current}" if current else "empty"
    return (
        f"The database at {where} is {state}, but this version of patientbot needs revision "
        f"{head}, and auto_migrate is off.\nRun: patientbot db upgrade"
    )


def cli_upgraded(current: str | None, head: str) -> str:
    return f"Database upgraded from {current or 'empty'} to revision {head}"


def cli_upgrade_done(where: str, before: str | None, head: str) -> str:
    if before == head:
        return f"The database at {where} is already at the newest revision, {head}."
    return f"Upgraded the database at {where} from {before or 'empty'} to revision {head}."


def cli_current(where: str, current: str | None, head: str) -> str:
    if current is None:
        return f"The database at {where} has no migration applied yet (newest is {head})."
    if current == head:
        return f"The database at {where} is at revision {current} (the newest)."
    return f"The database at {where} is at revision {current}; the newest is {head}."


def cli_check_not_current(where: str, current: str | None, head: str) -> str:
    return (
        f"The database at {where} is at revision {current or 'none'}, not the newest ({head}). "
        "Run: patientbot db upgrade"
    )


def cli_check_differences(where: str, differences: list[str]) -> str:
    lines = "\n".join(f"  {d}" for d in differences)
    return f"The database at {where} and the models disagree; a migration is missing:\n{lines}"


def cli_check_ok(where: str, head: str) -> str:
    return f"OK: the database at {where} is at revision {head} and matches the models."


def cli_seed_rejected(count: int) -> str:
    noun = "problem" if count == 1 else "problems"
    return f"Nothing was written: fix the {count} {noun} above and seed again."


def cli_seed_report(path: str, report: SeedReport) -> str:
    created, updated, unchanged = report.created, report.updated, report.unchanged
    kinds = ["groups", "consent texts", "invites", "team places", "tasks", "questions"]

    def part(kind: str) -> str:
        counts = [
            f"{created[kind]} created" if created[kind] else "",
            f"{updated[kind]} updated" if updated[kind] else "",
            f"{unchanged[kind]} unchanged" if unchanged[kind] else "",
        ]
        return f"{kind}: " + ", ".join(c for c in counts if c) if any(counts) else ""

    summary = "; ".join(p for p in (part(k) for k in kinds) if p)
    if not report.changed:
        return f"Seeded {path}: nothing changed ({summary})."
    return f"Seeded {path}: {summary}; {report.deliveries_planned} deliveries planned."


# --- deployment: health endpoint and start-up in polling or webhook mode --------------------


def health_database_unreachable(error: Exception) -> str:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"unreachable: {reason[0] if reason else type(error).__name__}"


def health_database_timeout(seconds: float) -> str:
    return f"unreachable: no answer within {seconds:g} seconds"


def health_revision_not_head(revision: str | None, head: str) -> str:
    return (
        f"the database is at migration revision {revision or 'none'}, this version needs {head}; "
        "run: patientbot db upgrade"
    )


def health_scan_lagging(lag: float, limit: float) -> str:
    return f"the due scan last finished {lag:.0f} seconds ago (more than {limit:g})"


def health_scan_never_ran(limit: float) -> str:
    return f"the due scan has not finished once in the {limit:g} seconds since start"


def health_writes_failing(count: int, reason: str) -> str:
    return f"the last {count} writes to the database failed: {reason}"


def health_inbox_stuck(pending: int, seconds: float) -> str:
    return f"{pending} received updates wait to be handled, the oldest for {seconds:.0f} seconds"


def deploy_webhook_needs(problem: str) -> str:
    return f"Webhook mode cannot start: {problem}"


def deploy_token_refused(source: str) -> str:
    return (
        "Telegram refused the bot token. Check TELEGRAM_BOT_TOKEN (or [telegram] token in "
        f"{source}) against the token @BotFather gave you."
    )


def deploy_telegram_unreachable(base_url: str, error: Exception) -> str:
    return (
        f"Cannot reach the Telegram Bot API at {base_url}: {error}\n"
        "Check the network, or [telegram] api_base_url (TELEGRAM_API_BASE_URL)."
    )


# --- playground ---------------------------------------------------------------------------
# Printed to the terminal by bot/playground when `patientbot run` finds no token.


def playground_started(url: str) -> str:
    return (
        "\nUntil then, try the whole bot without Telegram, in your browser:\n"
        f"Playground: open {url} and be the therapist or one of the patients "
        "(Alice, Bob, Chloe).\n"
        "Simulated time moves only when you press +1 hour or +1 day on the page. "
        "Press Ctrl+C here to stop."
    )


def playground_port_taken(host: str, port: int, error: OSError) -> str:
    return (
        f"The playground cannot listen on {host}:{port}: {error.strerror or error}.\n"
        "Stop whatever uses that port, or choose another under [playground] port in the "
        "configuration."
    )


# The page has no 📎: its own buttons beside the message box send a sample photo or video.
def playground_hint_photo() -> str:
    return (
        "Please send a photo (press the camera button beside the message box: "
        "it sends a sample picture)."
    )


def playground_hint_video() -> str:
    return (
        "Please send a video (press the video camera button beside the message box: "
        "it sends a sample clip)."
    )


def playground_stopped() -> str:
    return "Playground stopped."


# --- hardening: faults and outages ---------------------------------------------------------


def hardening_reply_lost() -> str:
    # Telegram failed us after the use case committed: the answer is stored, only the reply
    # went missing, so "nothing was changed" would be wrong here.
    return (
        "Sorry, my reply did not get through. Anything you answered is saved: "
        "send /tasks to carry on where you left off."
    )


# --- hardening: security -------------------------------------------------------------------


def hardening_too_long_to_repeat() -> str:
    # The reply would have quoted what was sent, and that made it longer than Telegram allows.
    return (
        "What you sent is too long for me to quote back, so nothing was changed. "
        "Please check it and send it again, shorter."
    )
