"""invite codes unique whatever their case; demo codes; ended memberships; wrong-code counters

- ``uq_invites_lower_code``: a unique index on ``lower(code)``. "/start shoulder1" used to
  find SHOULDER1 of one group or shoulder1 of another; now there can be only one. Codes that
  already differ only in case stop the upgrade with a sentence naming them, their groups and
  what to do, before anything has changed.
- ``invites.demo``: a seeded code short enough to guess, allowed only for demos. Codes shorter
  than 8 characters at the upgrade were seeded before that rule: they are marked demo, so the
  bot warns about them in production and /groups lists them.
- ``memberships.ended_at``: when a removed patient or a former therapist left (the rows stay,
  with the roles ``removed`` and ``former_therapist``).
- ``code_attempts``: a small counter per Telegram user who sent wrong invite codes lately.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import storage.types
from storage.errors import InviteCodeClash


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Shorter seeded codes can be guessed in a few thousand tries (the seed's rule since 0006).
DEMO_CODE_BELOW = 8


def upgrade() -> None:
    _refuse_codes_differing_only_in_case()
    op.create_table(
        'code_attempts',
        sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('window_started_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('cooldowns', sa.Integer(), nullable=False),
        sa.Column('blocked_until', storage.types.UTCDateTime(), nullable=True),
        sa.Column('alerted', sa.Boolean(), nullable=False),
        sa.Column('expires_at', storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_code_attempts')),
    )
    op.create_index(
        op.f('ix_code_attempts_expires_at'), 'code_attempts', ['expires_at'], unique=False
    )
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('demo', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_index('uq_invites_lower_code', 'invites', [sa.text('lower(code)')], unique=True)
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('ended_at', storage.types.UTCDateTime(), nullable=True)
        )
    invites = sa.table('invites', sa.column('code', sa.String), sa.column('demo', sa.Boolean))
    op.execute(
        invites.update()
        .where(sa.func.length(invites.c.code) < DEMO_CODE_BELOW)
        .values(demo=sa.true())
    )


def downgrade() -> None:
    # Memberships that ended are not memberships at 0005: drop them rather than let a removed
    # patient or a former therapist count as a member again.
    op.execute("DELETE FROM memberships WHERE role IN ('removed', 'former_therapist')")
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('ended_at')
    op.drop_index('uq_invites_lower_code', table_name='invites')
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.drop_column('demo')
    op.drop_index(op.f('ix_code_attempts_expires_at'), table_name='code_attempts')
    op.drop_table('code_attempts')


def _refuse_codes_differing_only_in_case() -> None:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT i.id, i.code, g.name FROM invites i JOIN groups g ON g.id = i.group_id"
            " WHERE lower(i.code) IN (SELECT lower(code) FROM invites"
            "  GROUP BY lower(code) HAVING count(*) > 1)"
            " ORDER BY lower(i.code), i.id"
        )
    ).all()
    if rows:
        raise InviteCodeClash([(row[0], row[1], row[2]) for row in rows])
