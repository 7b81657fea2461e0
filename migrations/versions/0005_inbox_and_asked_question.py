"""inbox table; deliveries remember the question last shown

Every update is stored in ``inbox`` before Telegram is told it arrived, and handled from there,
so a kill loses none. A delivery records the question whose message reached the patient
(``asked_*``) and when a question is still to be sent (``ask_pending_since``), so an answer is
stored only against a question the patient saw.

Check-ins already in progress at the upgrade had their current question sent by the version
before: it is recorded as shown, so nobody is asked again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import storage.types


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'inbox',
        sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=True),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('received_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('handled_at', storage.types.UTCDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('lease_until', storage.types.UTCDateTime(), nullable=True),
        sa.Column('claimed_by', sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint('update_id', name=op.f('pk_inbox')),
    )
    op.create_index(
        'ix_inbox_state_chat_id_update_id', 'inbox', ['state', 'chat_id', 'update_id']
    )
    op.create_index('ix_inbox_state_handled_at', 'inbox', ['state', 'handled_at'])
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('asked_question_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('asked_message_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('asked_at', storage.types.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column('ask_pending_since', storage.types.UTCDateTime(), nullable=True)
        )
        batch_op.create_index('ix_deliveries_ask_pending_since', ['ask_pending_since'])
    # The version before sent the current question of every check-in in progress.
    op.execute(
        "UPDATE deliveries SET asked_question_id = ("
        " SELECT q.id FROM questions q"
        " WHERE q.task_id = deliveries.task_id AND q.removed_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM answers a"
        "  WHERE a.delivery_id = deliveries.id AND a.question_id = q.id)"
        " ORDER BY q.position LIMIT 1),"
        " asked_at = COALESCE(started_at, sent_at)"
        " WHERE status = 'in_progress'"
    )


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_ask_pending_since')
        batch_op.drop_column('ask_pending_since')
        batch_op.drop_column('asked_at')
        batch_op.drop_column('asked_message_id')
        batch_op.drop_column('asked_question_id')
    op.drop_index('ix_inbox_state_handled_at', table_name='inbox')
    op.drop_index('ix_inbox_state_chat_id_update_id', table_name='inbox')
    op.drop_table('inbox')
