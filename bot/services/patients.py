"""Finding a patient by what a therapist typed: ``/patient`` and ``/chart PATIENT`` alike.

A Telegram id (``#`` allowed), a whole name or a part of one, in any case, among the patients
of the groups the caller says the therapist may see. A whole name that fits one patient is
that patient, even when it is part of other names too; several that fit become choices, each
with the groups it is seen in. A patient whose data was deleted is found by Telegram id only:
their name is gone.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from bot.frozen import frozen
from storage.models import Membership, Person, Role, TherapyGroup

# More matches than this are not offered as buttons: the therapist types more of the name.
MAX_CHOICES = 12

# Memberships that make someone a patient of a group, now or before.
# Everyone who was a patient of a group: one who left it (removed, or declined a changed
# consent text) keeps their page, with the answers they gave until then.
PATIENT_ROLES = (Role.PATIENT.value, Role.ERASED.value, Role.REMOVED.value, Role.DECLINED.value)


@frozen
class PatientChoice:
    person_id: int
    telegram_user_id: int
    name: str
    groups: tuple[str, ...]
    data_deleted: bool


@frozen
class PatientChoices:
    """Several patients fit what the therapist typed."""

    ref: str
    choices: tuple[PatientChoice, ...]  # at most MAX_CHOICES
    more: int  # how many more fit


class Patients:
    """The patients of some groups, each with their places there (first joined first).

    Lives inside the read session it was gathered in; use cases hand on only what they read
    from it.
    """

    def __init__(self, session: Session, among: Iterable[int] | None) -> None:
        query = (
            select(Person, Membership.group_id, TherapyGroup.name, Membership.role)
            .join(Membership, col(Membership.person_id) == Person.id)
            .join(TherapyGroup, col(TherapyGroup.id) == Membership.group_id)
            .where(col(Membership.role).in_(PATIENT_ROLES))
            .order_by(col(Membership.joined_at), col(Membership.id))
        )
        if among is not None:
            query = query.where(col(Membership.group_id).in_(list(among)))
        self.people: dict[int, Person] = {}
        self._places: dict[int, list[tuple[int, str, str]]] = {}
        for person, group_id, group_name, role in session.exec(query).all():
            assert person.id is not None
            self.people[person.id] = person
            self._places.setdefault(person.id, []).append((group_id, group_name, role))

    def group_ids(self, person_id: int) -> list[int]:
        """The groups the patient is (or was) in among those gathered, first joined first."""
        return list(dict.fromkeys(g for g, _, _ in self._places.get(person_id, [])))

    def erased(self, person_id: int) -> bool:
        """Whether the patient's data was deleted at their request."""
        person = self.people[person_id]
        return person.data_deleted_at is not None or any(
            role == Role.ERASED.value for _, _, role in self._places.get(person_id, [])
        )

    def matching(self, ref: str) -> list[Person]:
        """The patients ``ref`` names (see the module's docstring)."""
        ref = " ".join(ref.split())
        if not ref:
            return []
        digits = ref.lstrip("#")
        if digits.isascii() and digits.isdigit():
            return [p for p in self.people.values() if p.telegram_user_id == int(digits)]
        wanted = ref.casefold()
        named = [p for p in self.people.values() if p.data_deleted_at is None]
        exact = [p for p in named if " ".join(p.display_name.split()).casefold() == wanted]
        if len(exact) == 1:
            # "Al Smith" is Al Smith, even when "Alice Smithers" also contains those letters.
            return exact
        return [p for p in named if wanted in " ".join(p.display_name.split()).casefold()]

    def choices(self, ref: str, matches: list[Person]) -> PatientChoices:
        """Several matches as choices, by name, with the groups each is seen in."""
        ordered = sorted(
            matches, key=lambda p: (p.display_name.casefold(), p.telegram_user_id or 0)
        )
        return PatientChoices(
            " ".join(ref.split()),
            tuple(
                PatientChoice(
                    person_id=p.id or 0,
                    telegram_user_id=p.telegram_user_id or 0,
                    name=p.display_name,
                    groups=tuple(dict.fromkeys(n for _, n, _ in self._places[p.id or 0])),
                    data_deleted=p.data_deleted_at is not None,
                )
                for p in ordered[:MAX_CHOICES]
            ),
            max(0, len(matches) - MAX_CHOICES),
        )
