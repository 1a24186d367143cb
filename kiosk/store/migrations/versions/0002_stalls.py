"""stalls: restrooms, stalls, sensor assignment, stall events; device model

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 15:41:20.463834
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('restrooms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('floor', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('stall_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stall_id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.Float(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stall_events', schema=None) as batch_op:
        batch_op.create_index('ix_stall_events_stall_ts', ['stall_id', 'ts'], unique=False)

    op.create_table('stalls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('restroom_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['restroom_id'], ['restrooms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('restroom_id', 'label')
    )
    with op.batch_alter_table('stalls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stalls_restroom_id'), ['restroom_id'], unique=False)

    op.create_table('stall_sensors',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('stall_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stall_id'], ['stalls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id')
    )
    with op.batch_alter_table('stall_sensors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stall_sensors_stall_id'), ['stall_id'], unique=False)

    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('model')

    with op.batch_alter_table('stall_sensors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stall_sensors_stall_id'))

    op.drop_table('stall_sensors')
    with op.batch_alter_table('stalls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stalls_restroom_id'))

    op.drop_table('stalls')
    with op.batch_alter_table('stall_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stall_events_stall_ts')

    op.drop_table('stall_events')
    op.drop_table('restrooms')
