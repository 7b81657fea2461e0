"""erasure leaves nothing that identifies the person

- ``people.telegram_user_id`` may be NULL: an erased person keeps their row (reports show
  ``[deleted]``) but neither their Telegram user id nor their chat id.
- ``people.erased_user_mark``: a keyed hash (HMAC-SHA256) of the erased person's Telegram user
  id, so an old button they press is answered "your data was deleted" and nothing more.
- Data: people erased before this revision lose their ids, chat id and last message id now;
  their wrong-code counters and their chats' stored updates go with them (updates are scrubbed
  to their bare ``update_id``, which keeps a redelivered update from being handled twice).
  Their mark stays NULL: the key lives in the bot's configuration, not here, so an old button
  of theirs gets the answer any stranger gets.
- Downgrade: the older schema needs a user id on every row; an erased row gets ``-id`` (no
  Telegram user has a negative id, and ``id`` is unique) and the mark is dropped.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 07:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ERASED_IDS = "SELECT telegram_user_id FROM people WHERE data_deleted_at IS NOT NULL"
ERASED_CHATS = (
    "SELECT chat_id FROM people WHERE data_deleted_at IS NOT NULL AND chat_id IS NOT NULL "
    "UNION " + ERASED_IDS
)


def upgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.alter_column('telegram_user_id', existing_type=sa.BigInteger(), nullable=True)
        batch_op.add_column(sa.Column('erased_user_mark', sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_people_erased_user_mark'), ['erased_user_mark'], unique=False
        )
    op.execute(f"DELETE FROM code_attempts WHERE user_id IN ({ERASED_IDS})")
    op.execute(
        "UPDATE inbox SET payload = '{\"update_id\": ' || CAST(update_id AS VARCHAR(20)) || '}', "
        f"chat_id = NULL WHERE chat_id IN ({ERASED_CHATS})"
    )
    op.execute(
        "UPDATE people SET telegram_user_id = NULL, chat_id = NULL, "
        "last_answer_message_id = NULL WHERE data_deleted_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("UPDATE people SET telegram_user_id = -id WHERE telegram_user_id IS NULL")
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_erased_user_mark'))
        batch_op.drop_column('erased_user_mark')
        batch_op.alter_column('telegram_user_id', existing_type=sa.BigInteger(), nullable=False)
