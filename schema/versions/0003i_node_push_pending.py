"""Durable list of cache expiries each node has still to be told (node_push_pending)

Revision ID: 0003i
Revises: 0003c
Create Date: 2026-11-30 20:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003i'
down_revision = '0003c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('node_push_pending',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=32), nullable=False),
    sa.Column('objects', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_node_push_pending_node_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_node_push_pending'))
    )
    op.create_index(op.f('ix_node_push_pending_node_id'), 'node_push_pending', ['node_id'], unique=False)


def downgrade() -> None:
    op.drop_table('node_push_pending')  # its index goes with it (MariaDB refuses to drop an index a foreign key uses)
