"""locker history: indexes for filtering by member and by locker, newest first

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:10:00
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('locker_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_member', ['member', 'assigned_at'], unique=False)
        batch_op.create_index('ix_assignments_locker', ['locker', 'assigned_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('locker_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_locker')
        batch_op.drop_index('ix_assignments_member')
