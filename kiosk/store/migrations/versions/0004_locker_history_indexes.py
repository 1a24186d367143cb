"""locker history: indexes for filtering by member and by locker, newest first; assignments per local hour

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('locker_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_member', ['member', 'assigned_at'], unique=False)
        batch_op.create_index('ix_assignments_locker', ['locker', 'assigned_at'], unique=False)
    op.create_table('locker_hours',
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('assigned', sa.Integer(), nullable=False),
    sa.Column('released', sa.Integer(), nullable=False),
    sa.Column('held_s', sa.Float(), nullable=False),
    sa.Column('forced', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('slot')
    )
    # The history so far, by the local hour each assignment started in (this machine's time zone).
    op.execute("INSERT INTO locker_hours (slot, assigned, released, held_s, forced, overdue) "
               "SELECT CAST(strftime('%Y%m%d%H', assigned_at, 'unixepoch', 'localtime') AS INTEGER) AS s, count(*), "
               "count(released_at), coalesce(sum(released_at - assigned_at), 0), "
               "coalesce(sum(release_kind = 'force'), 0), coalesce(sum(release_kind = 'overdue'), 0) "
               "FROM locker_assignments GROUP BY s")


def downgrade() -> None:
    op.drop_table('locker_hours')
    with op.batch_alter_table('locker_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_locker')
        batch_op.drop_index('ix_assignments_member')
