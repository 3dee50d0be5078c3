"""Call records counted right: cdr arrival id and cross-node call id; the call rollup

Revision ID: 0003f
Revises: 0002
Create Date: 2026-11-30 16:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003f'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        with op.batch_alter_table('cdr', schema=None, recreate='always') as batch_op:
            batch_op.add_column(sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True))
            batch_op.add_column(sa.Column('call_id', sa.String(length=150), nullable=True))
            batch_op.create_index('ix_cdr_call_id', ['call_id'], unique=False)
    else:
        # Existing rows are numbered in their current order; new ones by the database as they arrive.
        op.execute('ALTER TABLE cdr ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY FIRST, '
                   'ADD COLUMN call_id VARCHAR(150) NULL, ADD INDEX ix_cdr_call_id (call_id)')
    op.create_table('call_rollup',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('accountcode', sa.String(length=80), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('billsec', sa.BigInteger(), nullable=False),
    sa.Column('billed_minutes', sa.Integer(), nullable=False),
    sa.Column('e911_calls', sa.Integer(), nullable=False),
    sa.CheckConstraint("direction IN ('in', 'out')", name=op.f('ck_call_rollup_direction')),
    sa.PrimaryKeyConstraint('day', 'accountcode', 'carrier', 'direction', name=op.f('pk_call_rollup'))
    )
    op.create_table('call_rollup_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_cdr_id', sa.BigInteger(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_rollup_state'))
    )


def downgrade() -> None:
    op.drop_table('call_rollup_state')
    op.drop_table('call_rollup')
    with op.batch_alter_table('cdr', schema=None) as batch_op:
        batch_op.drop_index('ix_cdr_call_id')
        batch_op.drop_column('call_id')
        batch_op.drop_column('id')
