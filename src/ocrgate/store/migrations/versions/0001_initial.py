"""Initial schema: accounts, api_keys, usage, files, batches, batch_lines.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 18:54:10.694854
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.Column('rpm', sa.Integer(), nullable=True),
    sa.Column('tpm', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('files',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_details', sa.Text(), nullable=True),
    sa.Column('storage_path', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.create_index('ix_files_account_time', ['account_id', 'created_at'], unique=False)

    op.create_table('usage',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=True),
    sa.Column('dialect', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('model_resolved', sa.String(length=100), nullable=True),
    sa.Column('task', sa.String(length=64), nullable=True),
    sa.Column('stream', sa.Boolean(), nullable=False),
    sa.Column('batch', sa.Boolean(), nullable=False),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('text_tokens', sa.Integer(), nullable=False),
    sa.Column('image_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('latency_ms', sa.Double(), nullable=False),
    sa.Column('cost', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('usage', schema=None) as batch_op:
        batch_op.create_index('ix_usage_account_time', ['account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_usage_time', ['created_at'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('hint', sa.String(length=16), nullable=False),
    sa.Column('rpm', sa.Integer(), nullable=True),
    sa.Column('tpm', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.Column('revoked_at', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_account_id'), ['account_id'], unique=False)

    op.create_table('batches',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=True),
    sa.Column('endpoint', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('input_file_id', sa.String(length=64), nullable=False),
    sa.Column('output_file_id', sa.String(length=64), nullable=True),
    sa.Column('error_file_id', sa.String(length=64), nullable=True),
    sa.Column('completion_window', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=True),
    sa.Column('request_total', sa.Integer(), nullable=False),
    sa.Column('request_completed', sa.Integer(), nullable=False),
    sa.Column('request_failed', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.Column('in_progress_at', sa.Double(), nullable=True),
    sa.Column('expires_at', sa.Double(), nullable=True),
    sa.Column('finalizing_at', sa.Double(), nullable=True),
    sa.Column('completed_at', sa.Double(), nullable=True),
    sa.Column('failed_at', sa.Double(), nullable=True),
    sa.Column('expired_at', sa.Double(), nullable=True),
    sa.Column('cancelling_at', sa.Double(), nullable=True),
    sa.Column('cancelled_at', sa.Double(), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['input_file_id'], ['files.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.create_index('ix_batches_account_time', ['account_id', 'created_at'], unique=False)
        batch_op.create_index('ix_batches_status', ['status'], unique=False)

    op.create_table('batch_lines',
    sa.Column('batch_id', sa.String(length=64), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('custom_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('batch_id', 'line_no'),
    sa.UniqueConstraint('batch_id', 'custom_id', name='uq_batch_lines_custom_id')
    )
    with op.batch_alter_table('batch_lines', schema=None) as batch_op:
        batch_op.create_index('ix_batch_lines_status', ['batch_id', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('batch_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_batch_lines_status')

    op.drop_table('batch_lines')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_index('ix_batches_status')
        batch_op.drop_index('ix_batches_account_time')

    op.drop_table('batches')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_account_id'))

    op.drop_table('api_keys')
    with op.batch_alter_table('usage', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_time')
        batch_op.drop_index(batch_op.f('ix_usage_request_id'))
        batch_op.drop_index('ix_usage_account_time')

    op.drop_table('usage')
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_index('ix_files_account_time')

    op.drop_table('files')
    op.drop_table('accounts')
