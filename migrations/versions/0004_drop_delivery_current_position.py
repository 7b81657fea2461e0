"""drop deliveries.current_position

The question a check-in is at is the first active question without an answer: the bot always
worked it out from the answers and never read this column, and keeping the copy up to date
cost every answer an UPDATE of the delivery (benchmarks/bench_answers.py).

The downgrade adds the column back and fills it for check-ins in progress with what it always
held: the position of their first active question without an answer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('current_position')


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('current_position', sa.Integer(), nullable=True))
    op.execute(
        "UPDATE deliveries SET current_position = ("
        " SELECT min(q.position) FROM questions q"
        " WHERE q.task_id = deliveries.task_id AND q.removed_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM answers a"
        "  WHERE a.delivery_id = deliveries.id AND a.question_id = q.id))"
        " WHERE status = 'in_progress'"
    )
