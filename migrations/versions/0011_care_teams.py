"""care teams: which therapists a group has

- ``group_therapists``: one row per (group, therapist). A therapist who is not an
  administrator sees, edits and exports only the groups they are on, and gets only their
  alerts and digests.
- Data: so that nobody loses access at the upgrade, every therapist the database knows (people
  with the role ``therapist``, and everyone holding a group place of a therapist, i.e. a
  ``memberships`` row with the role ``therapist``) is put on every existing group's team.
  The downgrade drops the table; the memberships were never touched, so nothing else changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 07:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import storage.types


# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Every (group, therapist) pair, added at the group's creation (the best "since when" there is).
EVERY_THERAPIST_ON_EVERY_GROUP = """
INSERT INTO group_therapists (group_id, person_id, added_at)
SELECT groups.id, therapists.id, groups.created_at
FROM groups CROSS JOIN (
    SELECT people.id FROM people WHERE people.role = 'therapist'
    UNION
    SELECT memberships.person_id FROM memberships WHERE memberships.role = 'therapist'
) AS therapists
"""


def upgrade() -> None:
    op.create_table(
        'group_therapists',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('added_at', storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['group_id'], ['groups.id'],
            name=op.f('fk_group_therapists_group_id_groups'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['person_id'], ['people.id'],
            name=op.f('fk_group_therapists_person_id_people'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_group_therapists')),
        sa.UniqueConstraint(
            'group_id', 'person_id', name=op.f('uq_group_therapists_group_id')
        ),
    )
    op.create_index(
        op.f('ix_group_therapists_group_id'), 'group_therapists', ['group_id'], unique=False
    )
    op.create_index(
        op.f('ix_group_therapists_person_id'), 'group_therapists', ['person_id'], unique=False
    )
    op.execute(EVERY_THERAPIST_ON_EVERY_GROUP)


def downgrade() -> None:
    op.drop_index(op.f('ix_group_therapists_person_id'), table_name='group_therapists')
    op.drop_index(op.f('ix_group_therapists_group_id'), table_name='group_therapists')
    op.drop_table('group_therapists')
