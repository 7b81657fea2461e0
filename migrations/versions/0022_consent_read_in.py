"""consent read in: the language of the words a patient agreed to

``consents.read_in``: the code of the translation the patient read ("de"), or "" when they
read the text as written. With the version it names exactly the words agreed to: a version's
text and translations never change. NULL: not recorded, for agreements stored before this
revision (and for a press on a consent message sent before it, whose button does not say).

Every agreement existing at the upgrade gets NULL: which words were shown was not kept, and a
guess from the patient's language today would be a record of something nobody saw. The
downgrade drops the column; agreements are otherwise untouched.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 11:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0022'
down_revision: Union[str, None] = '0021'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_in', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('read_in')
