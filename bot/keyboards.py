"""Inline keyboards and the callback data behind their buttons.

Callback data is at most 64 bytes and names what a press acts on, so a press can be checked
against the database (is this delivery the presser's, is this question the current one) and a
stale or forged button is refused politely. Formats, all ASCII and ``:``-separated:

    p:<delivery>:<action>                  prompt buttons: start, later, skip
    a:<delivery>:<question>:<token>        an answer button (token from responses.button_tokens)
    s:<delivery>:<question>                skip an optional question
    tz:<IANA zone name>                    /timezone: set this zone
    stop:yes|no                            /stop: the confirmation
    del:yes|no                             /deletemydata: the confirmation
    cj:<request>:<version>:y|n:<read in>   a join's consent: I agree / No, thanks (the
                                           translation shown; empty: the text as written)
    cm:<group>:<version>:y|n:<read in>     a member asked again after the text changed
    tc:save|cancel                         /setconsent: the review
    td:<task>:yes|no                       /deletetask: the confirmation
    tp:<task>                              /preview: every button of a preview (does nothing)
    te:<task>:<action>[:<position>]        /edittask: due, repeat, addq, rmq, done; rm:<pos>
    au:<group or 0>:<days or 0>:<offset>   /audit: the Older and Newer pages
    pp:<person>:<offset>[:<first media>]   /patient: a page (a choice, Older, Newer), in place;
                                           with the photo and video buttons from that one on
    po:<person>                            a report's or alert's button: the page, a new message
    pm:<answer>                            /patient: send this photo or video answer
    pc:<person>[:<question>]               /chart NAME's choices: that patient's chart (the
                                           question percent-encoded, cut to fit)
    rp:g|t:<group or task>:<offset>        /report: the next buttons of patients
    ct:<group>:<telegram user id>          /team: take that therapist off the group's team
    tg:<group> tr:<repeat> tn:<end>        /newtask steps: group, repetition, how it ends,
    tt:<type> tl:skip tb:skip ti:y|n       response type, no link, default bounds, integer,
    tq:y|n ta:skip tm:add|done tv:save|cancel   required, no alert, more, review
    tk:text|link|type|detail|integer|required|alert   changing a question: keep this step's
                                           part as it is (on its own step only)
    <other prefixes>                       owned by other modules, see ``Callback.kind``
"""

from __future__ import annotations

from bot.frozen import frozen
from storage.models import MAX_INTEGER

MAX_CALLBACK_BYTES = 64
# Telegram refuses ("reply markup is too long") an inline keyboard of more buttons than this.
MAX_BUTTONS = 100

# The patient page's buttons (handlers/therapist/patientpage.py, rendering.alert_markup).
PATIENT_PAGE = "pp"
PATIENT_OPEN = "po"
PATIENT_MEDIA = "pm"
PATIENT_CHART = "pc"
REPORT_PATIENTS = "rp"
# The report's 📈 Chart button: "chart:<group id>" (older than the kind:part form above).
CHART_BUTTON_PREFIX = "chart:"


@frozen
class Callback:
    kind: str
    parts: tuple[str, ...]

    def int_part(self, index: int) -> int | None:
        try:
            value = int(self.parts[index])
        except (IndexError, ValueError):
            return None
        return value if 0 < value <= MAX_INTEGER else None


def encode(kind: str, *parts: object) -> str:
    data = ":".join([kind, *(str(p) for p in parts)])
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data longer than {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> Callback | None:
    """Split callback data; None for anything that is not ours (foreign, empty, oversize)."""
    if not data or len(data.encode()) > MAX_CALLBACK_BYTES or not data.isascii():
        return None
    kind, *parts = data.split(":")
    if not kind:
        return None
    return Callback(kind, tuple(parts))
