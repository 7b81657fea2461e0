"""inbox: a chat's arrivals of the last minute, counted by the claim

The flood watch (``bot/floods.py``) counted each chat's updates in the memory of the process
that handled them; behind a load balancer every instance saw a share of a flooding chat's
updates, so the limit grew with the number of instances. The claim now counts them in the
inbox, which every instance shares, and ``ix_inbox_chat_id_received_at`` answers that from
the chat's last minute of rows.

No data changes. The downgrade drops the index.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 02:15:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0019'
down_revision: Union[str, None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_inbox_chat_id_received_at', 'inbox', ['chat_id', 'received_at'])


def downgrade() -> None:
    op.drop_index('ix_inbox_chat_id_received_at', table_name='inbox')
