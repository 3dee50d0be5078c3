"""Database servers: the primary and its replicas, the read order nodes follow

Revision ID: 0003h
Revises: 0003f
Create Date: 2026-11-30 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003h'
down_revision = '0003f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('db_servers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('host', sa.String(length=253), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('primary_flag', sa.Boolean(), nullable=True),
    sa.Column('hosting_provider', sa.String(length=64), nullable=False),
    sa.Column('max_connections', sa.Integer(), nullable=False),
    sa.CheckConstraint("role IN ('primary', 'replica')", name=op.f('ck_db_servers_role')),
    sa.CheckConstraint("(role = 'primary' AND primary_flag = 1) OR (role = 'replica' AND primary_flag IS NULL)",
                       name=op.f('ck_db_servers_primary_flag')),
    sa.CheckConstraint('port BETWEEN 1 AND 65535', name=op.f('ck_db_servers_port')),
    sa.CheckConstraint('max_connections BETWEEN 1 AND 100000', name=op.f('ck_db_servers_max_connections')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_db_servers')),
    sa.UniqueConstraint('name', name=op.f('uq_db_servers_name')),
    sa.UniqueConstraint('primary_flag', name=op.f('uq_db_servers_primary_flag')),
    sa.UniqueConstraint('host', 'port', name=op.f('uq_db_servers_host'))
    )


def downgrade() -> None:
    op.drop_table('db_servers')
