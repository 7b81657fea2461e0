"""consent request language: a joiner's choice of language before they agree

``consent_requests.language``: the language a person waiting to agree to a group's consent
text chose with /language (NULL: none; Telegram's language counts). They have no ``people``
row until they agree, and nowhere else to keep it: without it they could not read the consent
text in a language of their choosing. Agreeing makes it their ``people.language``; the row,
and the choice with it, goes when the join is answered or after a week unanswered.

Every request existing at the upgrade has none. The downgrade drops the column.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 12:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0023'
down_revision: Union[str, None] = '0022'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('consent_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consent_requests', schema=None) as batch_op:
        batch_op.drop_column('language')
