"""audit trail: an append-only table of who changed what

- ``audit_events``: one row per change a therapist, an administrator, a patient (erasing their
  data) or the command line made, written in the transaction of the change itself.
- On PostgreSQL a trigger refuses UPDATE and DELETE on the table, so not even a bug in the
  application can rewrite the trail (TRUNCATE, an owner's maintenance act, is not a row change
  and stays possible). SQLite has no roles to protect against; the code never updates it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 05:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import storage.types


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

REFUSE_CHANGES = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""
TRIGGER = """
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
"""


def upgrade() -> None:
    op.create_table(
        'audit_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('actor_telegram_id', sa.BigInteger(), nullable=True),
        sa.Column('actor_role', sa.String(length=20), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('object_kind', sa.String(length=20), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=True),
        sa.Column('group_id', sa.Integer(), nullable=True),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    )
    op.create_index(op.f('ix_audit_events_at'), 'audit_events', ['at'], unique=False)
    op.create_index('ix_audit_events_group_id_at', 'audit_events', ['group_id', 'at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(REFUSE_CHANGES)
        op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER audit_events_append_only ON audit_events')
        op.execute('DROP FUNCTION audit_events_append_only()')
    op.drop_index('ix_audit_events_group_id_at', table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_at'), table_name='audit_events')
    op.drop_table('audit_events')
