"""Call records counted right (cdr arrival id, cross-node call id, the call rollup); 911 calls and their alerts

Revision ID: 0003f
Revises: 0003a
Create Date: 2026-11-30 16:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003f'
down_revision = '0003a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        with op.batch_alter_table('cdr', schema=None, recreate='always') as batch_op:
            batch_op.add_column(sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True))
            batch_op.add_column(sa.Column('call_id', sa.String(length=150), nullable=True))
            batch_op.create_index('ix_cdr_call_id', ['call_id'], unique=False)
            batch_op.create_index('ix_cdr_userfield_start', ['userfield', 'start'], unique=False)
    else:
        # Existing rows are numbered in their current order; new ones by the database as they arrive.
        op.execute('ALTER TABLE cdr ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY FIRST, '
                   'ADD COLUMN call_id VARCHAR(150) NULL, ADD INDEX ix_cdr_call_id (call_id), '
                   'ADD INDEX ix_cdr_userfield_start (userfield, start)')
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
    op.create_table('e911_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.String(length=150), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('source', sa.String(length=4), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('account_code', sa.String(length=20), nullable=False),
    sa.Column('trunk', sa.String(length=80), nullable=False),
    sa.Column('node', sa.String(length=40), nullable=False),
    sa.Column('presented', sa.String(length=80), nullable=False),
    sa.Column('level', sa.String(length=12), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('sent', sa.String(length=20), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.CheckConstraint("source IN ('node', 'cdr')", name=op.f('ck_e911_calls_source')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_e911_calls_client_id_clients'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_e911_calls')),
    sa.UniqueConstraint('call_id', name=op.f('uq_e911_calls_call_id'))
    )
    with op.batch_alter_table('e911_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_e911_calls_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_e911_calls_client_id'), ['client_id'], unique=False)
    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('e911_call_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f('ck_alert_deliveries_channel')),
    sa.CheckConstraint("status IN ('pending', 'sent', 'retrying', 'failed')", name=op.f('ck_alert_deliveries_status')),
    sa.ForeignKeyConstraint(['e911_call_id'], ['e911_calls.id'], name=op.f('fk_alert_deliveries_e911_call_id_e911_calls'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('e911_call_id', 'channel', 'target', name=op.f('uq_alert_deliveries_e911_call_id'))
    )
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_deliveries_e911_call_id'), ['e911_call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_deliveries_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_deliveries_next_attempt_at'), ['next_attempt_at'], unique=False)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_emails', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('alert_webhook', sa.String(length=500), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('alert_webhook')
        batch_op.drop_column('alert_emails')
    op.drop_table('alert_deliveries')
    op.drop_table('e911_calls')
    op.drop_table('call_rollup_state')
    op.drop_table('call_rollup')
    with op.batch_alter_table('cdr', schema=None) as batch_op:
        batch_op.drop_index('ix_cdr_userfield_start')
        batch_op.drop_index('ix_cdr_call_id')
        batch_op.drop_column('call_id')
        batch_op.drop_column('id')
