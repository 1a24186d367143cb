"""serial boards: USB-serial boards and the device their readings belong to

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 18:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('serial_boards',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=False),
    sa.Column('firmware', sa.String(length=40), nullable=True),
    sa.Column('first_seen', sa.Float(), nullable=False),
    sa.Column('last_seen', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('serial_boards')
