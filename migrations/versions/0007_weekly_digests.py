"""weekly digests: one planned row per therapist, group and week

- ``digests``: planned by the due scan for the next configured weekday and time in the
  group's zone, claimed when due (``status``, ``lease_until``) and marked sent, so a digest
  goes out once across restarts and instances. Unique on group, therapist and due instant.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 04:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import storage.types


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'digests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('due_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('lease_until', storage.types.UTCDateTime(), nullable=True),
        sa.Column('claimed_by', sa.String(length=100), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('sent_at', storage.types.UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ['group_id'], ['groups.id'], name=op.f('fk_digests_group_id_groups'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['person_id'], ['people.id'], name=op.f('fk_digests_person_id_people'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_digests')),
        sa.UniqueConstraint('group_id', 'person_id', 'due_at', name=op.f('uq_digests_group_id')),
    )
    op.create_index(op.f('ix_digests_group_id'), 'digests', ['group_id'], unique=False)
    op.create_index(op.f('ix_digests_person_id'), 'digests', ['person_id'], unique=False)
    op.create_index('ix_digests_status_due_at', 'digests', ['status', 'due_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_digests_status_due_at', table_name='digests')
    op.drop_index(op.f('ix_digests_person_id'), table_name='digests')
    op.drop_index(op.f('ix_digests_group_id'), table_name='digests')
    op.drop_table('digests')
