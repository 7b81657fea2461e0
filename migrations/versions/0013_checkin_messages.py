"""check-in messages: the prompts and reminders to edit once their check-in closes

- ``checkin_messages``: one row per prompt or reminder on a patient's screen (chat, message id,
  the HTML as sent), written with the record that it was sent and deleted once the message has
  been edited to say how its check-in ended. ``delivery_id`` is set NULL when the check-in row
  itself is deleted first (retention's purge), so that message is still closed (as cancelled);
  /deletemydata deletes the rows of its check-ins itself (they hold the chat id).
- The upgrade adds a row for the prompt of every check-in open now (``sent`` or
  ``in_progress`` with a prompt message in a known chat), so prompts sent before the upgrade
  lose their buttons too when they close. Their text was never stored: ``text`` is NULL and
  only the buttons are taken off. Reminders sent before the upgrade were never recorded by id.
- The downgrade drops the table: messages not yet edited keep their buttons (pressing one is
  refused politely, as before this revision).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 07:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import storage.types


# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: Union[str, None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN_PROMPTS = """
INSERT INTO checkin_messages (delivery_id, chat_id, message_id, kind, text, created_at)
SELECT d.id, p.chat_id, d.prompt_message_id, 'prompt', NULL, COALESCE(d.sent_at, d.due_at)
FROM deliveries d JOIN people p ON p.id = d.person_id
WHERE d.status IN ('sent', 'in_progress')
  AND d.prompt_message_id IS NOT NULL
  AND p.chat_id IS NOT NULL
ORDER BY d.id
"""


def upgrade() -> None:
    op.create_table(
        'checkin_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=True),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('message_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['delivery_id'], ['deliveries.id'],
            name=op.f('fk_checkin_messages_delivery_id_deliveries'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_messages')),
    )
    op.create_index(
        op.f('ix_checkin_messages_chat_id'), 'checkin_messages', ['chat_id'], unique=False
    )
    op.create_index(
        op.f('ix_checkin_messages_delivery_id'), 'checkin_messages', ['delivery_id'],
        unique=False,
    )
    op.execute(OPEN_PROMPTS)


def downgrade() -> None:
    op.drop_index(op.f('ix_checkin_messages_delivery_id'), table_name='checkin_messages')
    op.drop_index(op.f('ix_checkin_messages_chat_id'), table_name='checkin_messages')
    op.drop_table('checkin_messages')
