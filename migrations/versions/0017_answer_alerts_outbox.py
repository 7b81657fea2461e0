"""answer alerts outbox: an answer whose care-team alerts are not yet sent says so

``answers.alert_pending_since`` is set in the transaction that stores an answer meeting its
question's alert rule and cleared once the alerts went out; the due scan sends those still
set after a grace, so a process killed between the answer and its alerts loses no alert
(``bot/services/checkin/alerting.py``). The partial index serves that look: the rows with a
mark are a handful among all the answers.

Every answer existing at the upgrade has its alerts behind it (NULL). The downgrade drops the
index and the column; alerts not sent by then are not sent.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 09:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from storage.types import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0017'
down_revision: Union[str, None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MARKED = sa.text('alert_pending_since IS NOT NULL')


def upgrade() -> None:
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_pending_since', UTCDateTime(), nullable=True))
    op.create_index(
        'ix_answers_alert_pending_since',
        'answers',
        ['alert_pending_since'],
        postgresql_where=MARKED,
        sqlite_where=MARKED,
    )


def downgrade() -> None:
    op.drop_index('ix_answers_alert_pending_since', table_name='answers')
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_column('alert_pending_since')
