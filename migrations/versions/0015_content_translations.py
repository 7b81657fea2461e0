"""content translations: task titles, question texts, options and links in other languages

- ``tasks.translations``: {"de": {"title": "..."}}, NULL when the title has none.
- ``questions.translations`` and ``question_revisions.translations``: {"de": {"text": "...",
  "options": [...], "link": "..."}}, NULL when there are none. A translation is not part of a
  question's wording: changing one changes the newest revision in place and makes no new
  revision (see ``bot/services/content.py``).

Every row existing at the upgrade has no translation (NULL): patients go on seeing the
canonical wording until a seed adds them. The downgrade drops the columns, and with them the
translations; the canonical wording, the answers and their revisions are untouched.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 16:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: Union[str, None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ('tasks', 'questions', 'question_revisions')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('translations', sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('translations')
