"""person first and last name, language code

Splits ``people.name`` into ``first_name`` and ``last_name`` at the first space (a one-word
name keeps an empty last name; nothing is trimmed, so ``first || ' ' || last`` is the old name
again) and adds ``language_code`` (Telegram's, 'en' until the person next writes /start).

The downgrade joins the two halves back with one space (just the first name when the last is
empty) and drops ``language_code``. The one name that does not come back byte for byte is one
whose only space was its last character ("Alice " comes back as "Alice"); a joined name longer
than the old column's 200 characters is cut at 200.

On SQLite the batch mode copies ``people``; ``migrations/env.py`` turns foreign keys off for
that, or dropping the old copy would cascade into memberships, deliveries and answers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import storage.types


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _find_space(column: str) -> str:
    """1-based position of the first space in ``column``, 0 when there is none."""
    if op.get_context().dialect.name == "postgresql":
        return f"strpos({column}, ' ')"
    return f"instr({column}, ' ')"


def upgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('last_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('language_code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='en'))

    space = _find_space("name")
    op.execute(
        f"""
        UPDATE people SET
            first_name = CASE WHEN {space} > 0 THEN substr(name, 1, {space} - 1) ELSE name END,
            last_name = CASE WHEN {space} > 0 THEN substr(name, {space} + 1) ELSE '' END
        """
    )

    with op.batch_alter_table('people', schema=None) as batch_op:
        # The defaults only filled the existing rows; the model sets both names itself.
        batch_op.alter_column('first_name', server_default=None)
        batch_op.alter_column('last_name', server_default=None)
        batch_op.drop_column('name')


def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default=''))

    op.execute(
        """
        UPDATE people SET name = substr(
            CASE WHEN last_name = '' THEN first_name ELSE first_name || ' ' || last_name END,
            1, 200
        )
        """
    )

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.alter_column('name', server_default=None)
        batch_op.drop_column('language_code')
        batch_op.drop_column('last_name')
        batch_op.drop_column('first_name')
