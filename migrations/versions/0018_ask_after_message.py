"""ask after message: the chat's newest message when a question was stored as next

``deliveries.ask_after_message_id`` keeps, while a question waits to be sent, the newest
message of the patient's chat the bot knew of when it stored it: the patient's typed answer
before it, or after a button press the pressed message or a newer one. ``asked_message_id``
held that number too, but the question's send overwrites it, and a send that went out again
after a kill (``Shown.maybe_shown_before``) needs it still: a patient's message more than one
number above it was typed after some unrecorded message of the bot's, the question's first
send (``bot/services/checkin/shown.py``).

Existing rows keep NULL: the check then counts from the patient's previous typed message, as
before. The downgrade drops the column.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 15:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0018'
down_revision: Union[str, None] = '0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ask_after_message_id', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('ask_after_message_id')
