"""The FHIR export's caption and the Questionnaire import's refusals."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from bot.texts.therapist_commands import _admin_plural
from bot.texts.therapist_dialogue import admin_task_saved

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.services.authoring import (
        TaskSaved,
    )


# --- FHIR: the export's caption and the import's refusals ----------------------------------
# The import's lines are read in a terminal (HTML stripped there) and name the item's linkId.


def admin_export_fhir_caption(responses: int, patients: int, group_ref: str | None) -> str:
    where = f" from {escape(group_ref)}" if group_ref else " from all groups"
    return (
        f"{_admin_plural(responses, 'check-in')} of {_admin_plural(patients, 'patient')}{where} "
        "as one FHIR R4B Bundle (JSON)."
    )


def admin_cli_exported_fhir(responses: int, patients: int, questionnaires: int, path: str) -> str:
    return (
        f"Wrote {_admin_plural(responses, 'check-in')} of {_admin_plural(patients, 'patient')} "
        f"and {_admin_plural(questionnaires, 'questionnaire')} to {path} (FHIR R4B)."
    )


def cli_questionnaire_imported(saved: TaskSaved, removed_left_out: int) -> str:
    left_out = (
        f"\n{_admin_plural(removed_left_out, 'item')} marked as a removed question left out."
        if removed_left_out
        else ""
    )
    return admin_task_saved(saved) + left_out


def cli_questionnaire_rejected(count: int) -> str:
    noun = "problem" if count == 1 else "problems"
    return f"Nothing was written: fix the {count} {noun} above and import again."


def cli_cannot_read(path: str, error: OSError) -> str:
    return f"Cannot read {path}: {error.strerror or error}"


def fhir_not_json(reason: str) -> str:
    return f"The file is not JSON: {escape(reason)}"


def fhir_not_questionnaire(kind: str | None) -> str:
    found = f"a {escape(kind)}" if kind else "no resourceType"
    return f"The file holds {found}, not a FHIR Questionnaire."


def fhir_items_not_list() -> str:
    return "The questionnaire's “item” must be a list."


def fhir_item_not_object(index: int) -> str:
    return f"Item #{index} is not an object."


def fhir_item_no_link_id(index: int, text: str) -> str:
    about = f" (“{escape(text[:60])}”)" if text else ""
    return f"Item #{index}{about} has no linkId: every item needs one."


def fhir_item_duplicate_link_id(link_id: str) -> str:
    return f"Item {escape(link_id)}: this linkId is used twice."


def fhir_item_nested(link_id: str) -> str:
    return f"Item {escape(link_id)}: nested groups are not supported; list the questions flat."


def fhir_item_unsupported_type(link_id: str, kind: str, supported: Sequence[str]) -> str:
    return (
        f"Item {escape(link_id)}: type “{escape(kind)}” is not supported "
        f"(supported: {', '.join(supported)})."
    )


def fhir_item_conditional(link_id: str) -> str:
    return f"Item {escape(link_id)}: enableWhen (a conditional question) is not supported."


def fhir_item_repeats(link_id: str) -> str:
    return f"Item {escape(link_id)}: repeating answers are not supported."


def fhir_item_value_set(link_id: str) -> str:
    return f"Item {escape(link_id)}: options from a value set are not supported; list them."


def fhir_invalid(where: str, reason: str) -> str:
    return f"Not a valid FHIR R4B Questionnaire at {escape(where)}: {escape(reason)}"


def fhir_item_invalid(link_id: str, where: str, reason: str) -> str:
    return f"Item {escape(link_id)}: not valid FHIR R4B at {escape(where)}: {escape(reason)}"


def fhir_item_problem(link_id: str, problem: str) -> str:
    return f"Item {escape(link_id)}: {problem}"


def fhir_item_no_text() -> str:
    return "it has no text: give the question as the patient should read it."


def fhir_option_not_text() -> str:
    return "every answerOption needs a valueCoding with a display or code, or a valueString."


def fhir_attachment_kind() -> str:
    return "an attachment needs the mimeType extension image/* (a photo) or video/* (a video)."
