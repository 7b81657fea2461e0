"""The FHIR export's caption and the Questionnaire import's refusals."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from bot.texts.language import _, counted, ngettext
from bot.texts.therapist_dialogue import admin_task_saved, export_source

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.services.authoring import (
        TaskSaved,
    )
    from bot.services.reports import ExportScope


# --- FHIR: the export's caption and the import's refusals ----------------------------------
# The import's lines are read in a terminal (HTML stripped there) and name the item's linkId.


def admin_export_fhir_caption(
    responses: int, patients: int, group_ref: str | None, scope: ExportScope
) -> str:
    where = export_source(group_ref, scope)
    return _("{responses} of {patients}{where} as one FHIR R4B Bundle (JSON).").format(
        responses=counted("{n} check-in", "{n} check-ins", responses),
        patients=counted("{n} patient", "{n} patients", patients),
        where=where,
    )


def admin_cli_exported_fhir(responses: int, patients: int, questionnaires: int, path: str) -> str:
    return _("Wrote {responses} of {patients} and {questionnaires} to {path} (FHIR R4B).").format(
        responses=counted("{n} check-in", "{n} check-ins", responses),
        patients=counted("{n} patient", "{n} patients", patients),
        questionnaires=counted("{n} questionnaire", "{n} questionnaires", questionnaires),
        path=path,
    )


def cli_questionnaire_imported(saved: TaskSaved, removed_left_out: int) -> str:
    left_out = (
        _("\n{removed_left_out} marked as a removed question left out.").format(
            removed_left_out=counted("{n} item", "{n} items", removed_left_out)
        )
        if removed_left_out
        else ""
    )
    return admin_task_saved(saved) + left_out


def cli_questionnaire_rejected(count: int) -> str:
    return ngettext(
        "Nothing was written: fix the {count} problem above and import again.",
        "Nothing was written: fix the {count} problems above and import again.",
        count,
    ).format(count=count)


def cli_cannot_read(path: str, error: OSError) -> str:
    return _("Cannot read {path}: {value}").format(path=path, value=error.strerror or error)


def fhir_not_json(reason: str) -> str:
    return _("The file is not JSON: {reason}").format(reason=escape(reason))


def fhir_not_questionnaire(kind: str | None) -> str:
    found = f"a {escape(kind)}" if kind else _("no resourceType")
    return _("The file holds {found}, not a FHIR Questionnaire.").format(found=found)


def fhir_items_not_list() -> str:
    return _("The questionnaire's “item” must be a list.")


def fhir_item_not_object(index: int) -> str:
    return _("Item #{index} is not an object.").format(index=index)


def fhir_item_no_link_id(index: int, text: str) -> str:
    about = f" (“{escape(text[:60])}”)" if text else ""
    return _("Item #{index}{about} has no linkId: every item needs one.").format(
        index=index, about=about
    )


def fhir_item_duplicate_link_id(link_id: str) -> str:
    return _("Item {link_id}: this linkId is used twice.").format(link_id=escape(link_id))


def fhir_item_nested(link_id: str) -> str:
    return _("Item {link_id}: nested groups are not supported; list the questions flat.").format(
        link_id=escape(link_id)
    )


def fhir_item_unsupported_type(link_id: str, kind: str, supported: Sequence[str]) -> str:
    return _("Item {link_id}: type “{kind}” is not supported (supported: {supported}).").format(
        link_id=escape(link_id), kind=escape(kind), supported=", ".join(supported)
    )


def fhir_item_conditional(link_id: str) -> str:
    return _("Item {link_id}: enableWhen (a conditional question) is not supported.").format(
        link_id=escape(link_id)
    )


def fhir_item_repeats(link_id: str) -> str:
    return _("Item {link_id}: repeating answers are not supported.").format(
        link_id=escape(link_id)
    )


def fhir_item_value_set(link_id: str) -> str:
    return _("Item {link_id}: options from a value set are not supported; list them.").format(
        link_id=escape(link_id)
    )


def fhir_invalid(where: str, reason: str) -> str:
    return _("Not a valid FHIR R4B Questionnaire at {where}: {reason}").format(
        where=escape(where), reason=escape(reason)
    )


def fhir_item_invalid(link_id: str, where: str, reason: str) -> str:
    return _("Item {link_id}: not valid FHIR R4B at {where}: {reason}").format(
        link_id=escape(link_id), where=escape(where), reason=escape(reason)
    )


def fhir_in_file(file: str, problem: str) -> str:
    # A file's name and its problem, as a compiler writes them: not a sentence to translate.
    return f"{escape(file)}: {problem}"


def fhir_item_problem(link_id: str, problem: str) -> str:
    return _("Item {link_id}: {problem}").format(link_id=escape(link_id), problem=problem)


def fhir_task_exists(title: str, task_id: int, due: str) -> str:
    return _(
        "The group already has the task “{title}” due {due} (task {task_id}): this "
        "Questionnaire was imported before. To import it again, give another --due, or "
        "delete that task first (/deletetask {task_id})."
    ).format(title=escape(title), due=due, task_id=task_id)


def fhir_item_no_text() -> str:
    return _("it has no text: give the question as the patient should read it.")


def fhir_option_not_text() -> str:
    return _("every answerOption needs a valueCoding with a display or code, or a valueString.")


def fhir_attachment_kind() -> str:
    return _("an attachment needs the mimeType extension image/* (a photo) or video/* (a video).")
