"""Carriers: how each wants caller-ID privacy signalled (privacy_mode)

Revision ID: 0003a
Revises: 0002
Create Date: 2026-11-30 16:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003a'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('privacy_mode', sa.String(length=8), nullable=False, server_default='pai'))
        batch_op.create_check_constraint(op.f('ck_carriers_privacy_mode'), "privacy_mode IN ('pai', 'rpid')")


def downgrade() -> None:
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_carriers_privacy_mode'), type_='check')
        batch_op.drop_column('privacy_mode')
