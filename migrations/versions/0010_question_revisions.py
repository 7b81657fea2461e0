"""question revisions: answers point at the wording the patient answered

- ``question_revisions``: one row per wording of a question (text, link, type, options,
  bounds), numbered from 1 per question. Every question gets revision 1 with its fields as
  they stand, dated when its task was created (questions carry no date of their own).
- ``questions.revision``: the number of the newest revision (1 for every question here).
- ``answers.question_revision_id``: every answer points at its question's revision 1.

The downgrade drops the revisions: each question keeps its newest wording, and answers to an
older one appear to answer that, as they did before this revision.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 07:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import storage.types


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FIRST_REVISIONS = """
INSERT INTO question_revisions (question_id, revision, description, link, response_type,
    options, min_value, max_value, integer_only, max_length, created_at)
SELECT q.id, 1, q.description, q.link, q.response_type, q.options, q.min_value, q.max_value,
    q.integer_only, q.max_length, t.created_at
FROM questions q JOIN tasks t ON t.id = q.task_id
ORDER BY q.id
"""
ANSWERS_TO_FIRST_REVISIONS = """
UPDATE answers SET question_revision_id = (
    SELECT r.id FROM question_revisions r
    WHERE r.question_id = answers.question_id AND r.revision = 1
)
"""


def upgrade() -> None:
    op.create_table(
        'question_revisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('question_id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('description', sa.String(length=1000), nullable=False),
        sa.Column('link', sa.String(length=500), nullable=True),
        sa.Column('response_type', sa.String(length=20), nullable=False),
        sa.Column('options', sa.JSON(), nullable=True),
        sa.Column('min_value', sa.Float(), nullable=True),
        sa.Column('max_value', sa.Float(), nullable=True),
        sa.Column('integer_only', sa.Boolean(), nullable=False),
        sa.Column('max_length', sa.Integer(), nullable=True),
        sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['question_id'],
            ['questions.id'],
            name=op.f('fk_question_revisions_question_id_questions'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_question_revisions')),
        sa.UniqueConstraint(
            'question_id', 'revision', name=op.f('uq_question_revisions_question_id')
        ),
    )
    op.create_index(
        op.f('ix_question_revisions_question_id'), 'question_revisions', ['question_id']
    )
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('revision', sa.Integer(), server_default='1', nullable=False)
        )
    op.execute(FIRST_REVISIONS)

    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('question_revision_id', sa.Integer(), nullable=True))
    op.execute(ANSWERS_TO_FIRST_REVISIONS)
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.alter_column('question_revision_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(
            batch_op.f('ix_answers_question_revision_id'), ['question_revision_id']
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_answers_question_revision_id_question_revisions'),
            'question_revisions',
            ['question_revision_id'],
            ['id'],
            ondelete='RESTRICT',
        )


def downgrade() -> None:
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_answers_question_revision_id_question_revisions'),
            type_='foreignkey',
        )
        batch_op.drop_index(batch_op.f('ix_answers_question_revision_id'))
        batch_op.drop_column('question_revision_id')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_column('revision')
    op.drop_index(op.f('ix_question_revisions_question_id'), table_name='question_revisions')
    op.drop_table('question_revisions')
