"""lockers: members, lockers, assignments with one active per locker and per member

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 17:02:43.343894
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lockers',
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('bank', sa.String(length=40), nullable=False),
    sa.Column('out_of_order', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('number')
    )
    op.create_table('members',
    sa.Column('enrollment', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('programme', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('enrollment')
    )
    op.create_table('locker_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('locker', sa.Integer(), nullable=False),
    sa.Column('member', sa.String(length=16), nullable=False),
    sa.Column('assigned_at', sa.Float(), nullable=False),
    sa.Column('due_at', sa.Float(), nullable=False),
    sa.Column('assigned_by', sa.String(length=120), nullable=False),
    sa.Column('released_at', sa.Float(), nullable=True),
    sa.Column('released_by', sa.String(length=120), nullable=True),
    sa.Column('release_kind', sa.String(length=16), nullable=True),
    sa.Column('release_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['locker'], ['lockers.number'], ),
    sa.ForeignKeyConstraint(['member'], ['members.enrollment'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('locker_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_assigned_at', ['assigned_at'], unique=False)
        batch_op.create_index('ux_active_locker', ['locker'], unique=True, sqlite_where=sa.text('released_at IS NULL'))
        batch_op.create_index('ux_active_member', ['member'], unique=True, sqlite_where=sa.text('released_at IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('locker_assignments', schema=None) as batch_op:
        batch_op.drop_index('ux_active_member', sqlite_where=sa.text('released_at IS NULL'))
        batch_op.drop_index('ux_active_locker', sqlite_where=sa.text('released_at IS NULL'))
        batch_op.drop_index('ix_assignments_assigned_at')

    op.drop_table('locker_assignments')
    op.drop_table('members')
    op.drop_table('lockers')
