"""admin: device MAC / uptime / retirement, commands, firmware images, OTA jobs, firmware history

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 19:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('devices') as batch:
        batch.add_column(sa.Column('mac', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('uptime_s', sa.Float(), nullable=True))
        batch.add_column(sa.Column('uptime_at', sa.Float(), nullable=True))
        batch.add_column(sa.Column('retired_at', sa.Float(), nullable=True))
    op.create_table('device_commands',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('parameters', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('ttl_s', sa.Float(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('uptime_before', sa.Float(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('history', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_device_commands_device', 'device_commands', ['device_id', 'created_at'])
    op.create_index('ix_device_commands_open', 'device_commands', ['state'])
    op.create_table('firmware_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.Column('uploaded_at', sa.Float(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'version')
    )
    op.create_table('ota_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('from_version', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('ordered_at', sa.Float(), nullable=True),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['firmware_images.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ota_jobs_device', 'ota_jobs', ['device_id', 'created_at'])
    op.create_index('ix_ota_jobs_state', 'ota_jobs', ['state'])
    op.create_table('firmware_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_firmware_history_device', 'firmware_history', ['device_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_firmware_history_device', table_name='firmware_history')
    op.drop_table('firmware_history')
    op.drop_index('ix_ota_jobs_state', table_name='ota_jobs')
    op.drop_index('ix_ota_jobs_device', table_name='ota_jobs')
    op.drop_table('ota_jobs')
    op.drop_table('firmware_images')
    op.drop_index('ix_device_commands_open', table_name='device_commands')
    op.drop_index('ix_device_commands_device', table_name='device_commands')
    op.drop_table('device_commands')
    with op.batch_alter_table('devices') as batch:
        batch.drop_column('retired_at')
        batch.drop_column('uptime_at')
        batch.drop_column('uptime_s')
        batch.drop_column('mac')
