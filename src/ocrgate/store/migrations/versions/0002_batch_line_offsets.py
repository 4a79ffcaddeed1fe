"""Batch lines remember where they are in the input file (byte offset and length).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('batch_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('byte_offset', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('byte_length', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('batch_lines', schema=None) as batch_op:
        batch_op.drop_column('byte_length')
        batch_op.drop_column('byte_offset')
