"""Users and sign-in attempts (admin web), port orders and their numbers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:56:24.701298
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('address', sa.String(length=45), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_attempts'))
    )
    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_attempts_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_attempts_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_attempts_email'), ['email'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_sign_in_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'operator', 'viewer')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('port_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_carrier_id', sa.Integer(), nullable=False),
    sa.Column('to_carrier_id', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'completed', 'cancelled')", name=op.f('ck_port_orders_status')),
    sa.CheckConstraint('from_carrier_id <> to_carrier_id', name=op.f('ck_port_orders_two_carriers')),
    sa.ForeignKeyConstraint(['from_carrier_id'], ['carriers.id'], name=op.f('fk_port_orders_from_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['to_carrier_id'], ['carriers.id'], name=op.f('fk_port_orders_to_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_port_orders'))
    )
    with op.batch_alter_table('port_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_port_orders_from_carrier_id'), ['from_carrier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_port_orders_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_port_orders_to_carrier_id'), ['to_carrier_id'], unique=False)

    op.create_table('port_order_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('port_order_id', sa.Integer(), nullable=False),
    sa.Column('e164', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['port_order_id'], ['port_orders.id'], name=op.f('fk_port_order_numbers_port_order_id_port_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_port_order_numbers')),
    sa.UniqueConstraint('port_order_id', 'e164', name=op.f('uq_port_order_numbers_port_order_id_e164'))
    )
    with op.batch_alter_table('port_order_numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_port_order_numbers_e164'), ['e164'], unique=False)



def downgrade() -> None:
    # Dropping a table drops its indexes (MariaDB refuses to drop an index a foreign key needs first).
    op.drop_table('port_order_numbers')
    op.drop_table('port_orders')
    op.drop_table('users')
    op.drop_table('sign_in_attempts')
