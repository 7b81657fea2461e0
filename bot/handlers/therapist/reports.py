"""/report and /export: adherence per patient, CSV and FHIR files."""

from __future__ import annotations

import logging

from telegram import InputFile, Update

from bot import texts
from bot.context import BotContext
from bot.handlers.therapist.common import (
    MAX_MESSAGE,
    _actor,
    _args,
    _attempt,
    _now,
    _problems,
    _send,
    _send_long,
    _zone,
    therapist_only,
)
from bot.handlers.therapist.patientpage import report_markup
from bot.services import reports
from bot.services.authoring import AuthoringError

log = logging.getLogger(__name__)


# --- reports and exports ------------------------------------------------------------------


@therapist_only
async def report(update: Update, context: BotContext) -> None:
    """Send per-patient adherence for a group or a task."""
    text = _args(update)
    if not text:
        await _send(update, texts.admin_usage_report())
        return
    kind, ref = reports.parse_report_target(text)
    deps = context.deps
    result = await _attempt(
        update,
        context,
        reports.adherence,
        deps.database,
        _now(context),
        _zone(context),
        kind,
        ref,
        actor=_actor(update, context),
    )
    if result is None:
        return
    *chunks, last = texts.admin_report(result, MAX_MESSAGE)
    await _send_long(update, chunks)
    await _send(update, last, report_markup(result))


@therapist_only
async def export(update: Update, context: BotContext) -> None:
    """Send every answer (of a group, or all) as a CSV file, or as FHIR with "fhir" last."""
    ref, as_fhir = reports.parse_export_args(_args(update))
    deps = context.deps
    max_bytes = deps.settings.telegram.max_upload_bytes
    message = update.effective_message
    assert message is not None
    try:
        if as_fhir:
            # Imported on first use: the FHIR models add about 0.4 s to every start otherwise.
            from bot.services import fhir

            bundle = await deps.run(
                fhir.export_fhir,
                deps.database,
                _now(context),
                _zone(context),
                ref,
                actor=_actor(update, context),
                max_bytes=max_bytes,
            )
            await message.reply_document(
                InputFile(bundle.content, filename=bundle.filename),
                caption=_caption(
                    texts.admin_export_fhir_caption(
                        bundle.responses, bundle.patients, ref, bundle.scope
                    ),
                    bundle.unzipped_size,
                ),
                parse_mode="HTML",
                do_quote=False,
            )
            return
        result = await deps.run(
            reports.export_csv,
            deps.database,
            _now(context),
            _zone(context),
            ref,
            actor=_actor(update, context),
            max_bytes=max_bytes,
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    await message.reply_document(
        InputFile(result.content, filename=result.filename),
        caption=_caption(
            texts.admin_export_caption(result.rows, ref, result.scope), result.unzipped_size
        ),
        parse_mode="HTML",
        do_quote=False,
    )


def _caption(what: str, unzipped_size: int | None) -> str:
    if unzipped_size is None:
        return what
    return f"{what}\n{texts.admin_export_zipped(unzipped_size)}"
