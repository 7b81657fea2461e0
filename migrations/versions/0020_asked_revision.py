"""asked revision: the wording a check-in's question was shown in, by its number

``deliveries.asked_revision`` names the revision of ``asked_question_id`` whose words the
question's message held. An answer counts only while that is still the question's revision;
before, the answer paths compared the newest revision's ``created_at`` with ``asked_at``, and
a therapist's edit whose transaction committed just after the record of the send, its instant
taken just before, passed that test: the patient's reply to the old words was stored against
the new ones (PostgreSQL, two instances).

Open check-ins get the revision that rule would have taken as shown: the newest of the asked
question's revisions made at or before ``asked_at``; finished ones, never answered again, keep
NULL. A row with no ``asked_at`` (a question
reworded while its message was on its way) or no revision that old keeps NULL, which the
answer paths read as reworded, as they read a missing ``asked_at`` before. The downgrade drops
the column; rows recorded after the upgrade keep their ``asked_at``, so the old rule still
reads them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 09:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0020'
down_revision: Union[str, None] = '0019'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('asked_revision', sa.Integer(), nullable=True))
    op.execute(
        "UPDATE deliveries SET asked_revision = ("
        " SELECT max(r.revision) FROM question_revisions r"
        " WHERE r.question_id = deliveries.asked_question_id"
        " AND r.created_at <= deliveries.asked_at"
        ") WHERE asked_question_id IS NOT NULL AND asked_at IS NOT NULL"
        # Only open check-ins are answered; a finished one's row need not be rewritten (one
        # long UPDATE over the whole history at start, holding its locks).
        " AND status IN ('sent', 'in_progress')"
    )


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('asked_revision')
