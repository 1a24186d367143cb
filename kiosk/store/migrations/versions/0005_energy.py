"""energy: ports, rollups per minute / hour / day, notifications, raw readings by port

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 18:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ports',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('active_w', sa.Float(), nullable=False),
    sa.Column('noise_floor_w', sa.Float(), nullable=True),
    sa.Column('phantom_after_s', sa.Float(), nullable=False),
    sa.Column('schedule', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_id', 'channel'),
    sa.UniqueConstraint('device_id', 'name')
    )
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.create_index('ix_ports_device_id', ['device_id'], unique=False)
    op.create_table('energy_rollups',
    sa.Column('port', sa.String(length=36), nullable=False),
    sa.Column('tier', sa.String(length=8), nullable=False),
    sa.Column('start', sa.Float(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('minimum', sa.Float(), nullable=False),
    sa.Column('maximum', sa.Float(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('energy_wh', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('port', 'tier', 'start')
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('watts', sa.Float(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('monthly_cost', sa.Float(), nullable=True),
    sa.Column('ended_at', sa.Float(), nullable=True),
    sa.Column('acknowledged_at', sa.Float(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_open', ['acknowledged_at', 'created_at'], unique=False)
    with op.batch_alter_table('energy_readings', schema=None) as batch_op:
        batch_op.create_index('ix_energy_port_ts', ['port', 'ts'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('energy_readings', schema=None) as batch_op:
        batch_op.drop_index('ix_energy_port_ts')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_open')
    op.drop_table('notifications')
    op.drop_table('energy_rollups')
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.drop_index('ix_ports_device_id')
    op.drop_table('ports')
