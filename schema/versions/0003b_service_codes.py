"""Service codes (N11, 988): per carrier the codes it accepts and how it wants them dialled; per client
the codes blocked (never 711 or 988)

Revision ID: 0003b
Revises: 0003f
Create Date: 2026-11-30 16:20:00
"""
from alembic import op
import sqlalchemy as sa

from app.service_codes import ALL, blocked_codes_check_sql, service_codes_check_sql

revision = '0003b'
down_revision = '0003f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        # user@registrar domain (issue 9): the user part alone still fits Asterisk's 40 characters.
        batch_op.alter_column('username', existing_type=sa.String(length=40), type_=sa.String(length=128),
                              existing_nullable=True)
        batch_op.add_column(sa.Column('service_codes', sa.String(length=40), nullable=False, server_default=ALL))
        batch_op.add_column(sa.Column('service_code_format', sa.String(length=8), nullable=False, server_default='code'))
        batch_op.create_check_constraint(op.f('ck_carriers_service_codes'), service_codes_check_sql('service_codes'))
        batch_op.create_check_constraint(op.f('ck_carriers_service_code_format'),
                                         "service_code_format IN ('code','1code','+1code')")
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blocked_service_codes', sa.String(length=40), nullable=False, server_default=''))
        batch_op.create_check_constraint(op.f('ck_clients_blocked_service_codes'),
                                         blocked_codes_check_sql('blocked_service_codes'))


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_clients_blocked_service_codes'), type_='check')
        batch_op.drop_column('blocked_service_codes')
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_carriers_service_code_format'), type_='check')
        batch_op.drop_constraint(op.f('ck_carriers_service_codes'), type_='check')
        batch_op.drop_column('service_code_format')
        batch_op.drop_column('service_codes')
        batch_op.alter_column('username', existing_type=sa.String(length=128), type_=sa.String(length=40),
                              existing_nullable=True)
