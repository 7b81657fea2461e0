"""Therapist side: the admin commands, the /newtask and /edittask dialogue, command menus.

One module per journey: ``groups`` (therapists, groups, patients, invites), ``tasks`` (reading,
previews, the one-line form, deletion), ``reports`` (/report, /export), ``dialogue`` (the
/newtask and /edittask steps, one table of steps for both), ``edittask`` (what only editing
has), ``menus`` (command menus), ``common`` (the therapist check, sending, shared values) and
``registration`` (the handlers in their order).

Every admin handler is wrapped in ``therapist_only``, which asks the database whether the
sender is a therapist before anything else happens; everyone else gets one neutral sentence
and nothing changes. That includes button presses, since callback data can be forged.

Admin commands answer in private chats only: an export or a patient list must never land in a
group chat.

``/tasks`` is shared with patients. The therapist's ``/tasks`` runs in handler group -1: for a
therapist it answers and stops further handling (``ApplicationHandlerStop``); for anyone else
it returns without answering, so the patient's ``/tasks`` in group 0 does.

The dialogues keep their draft in ``user_data``: the one place in-memory state is allowed, as
a cache of a therapist's unfinished authoring. Nothing is stored until Save.
"""

from __future__ import annotations

from bot.handlers.therapist.common import admin_menu, patient_menu, therapist_menu
from bot.handlers.therapist.menus import install_menus, menus_published, stop_publishing_menus
from bot.handlers.therapist.registration import register

__all__ = [
    "admin_menu",
    "install_menus",
    "menus_published",
    "patient_menu",
    "register",
    "stop_publishing_menus",
    "therapist_menu",
]
