"""readings keep the device's id for them (seq), stored once per device

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TABLES = (("telemetry", "ux_telemetry_device_seq"), ("energy_readings", "ux_energy_device_seq"),
          ("stall_readings", "ux_stall_device_seq"))


def upgrade() -> None:
    for table, index in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('seq', sa.String(length=64), nullable=True))
        op.create_index(index, table, ['device_id', 'seq'], unique=True, sqlite_where=sa.text('seq IS NOT NULL'),
                        postgresql_where=sa.text('seq IS NOT NULL'))


def downgrade() -> None:
    for table, index in TABLES:
        op.drop_index(index, table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column('seq')
