"""consent translations: a group's consent text in the other languages the bot speaks

``consent_versions.translations``: {"de": {"text": "..."}}, NULL when the version has none.
A patient is asked to agree in their own language where the version has it: informed consent
is consent to words the patient can read. A translation is part of the version, as the
canonical text is: a seed that changes one makes the group's next version, and members are
asked again.

Every version existing at the upgrade has no translation (NULL): patients go on reading the
canonical text. The downgrade drops the column, and with it the translations; versions and
agreements are untouched.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 09:45:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0021'
down_revision: Union[str, None] = '0020'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('consent_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('translations', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consent_versions', schema=None) as batch_op:
        batch_op.drop_column('translations')
