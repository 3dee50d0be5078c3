"""Live state from the nodes: when each node last answered the admin over AMI

Revision ID: 0003g
Revises: 0003e
Create Date: 2026-11-30 16:35:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003g'
down_revision = '0003e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('node_last_seen',
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_node_last_seen_node_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('node_id', name=op.f('pk_node_last_seen'))
    )


def downgrade() -> None:
    op.drop_table('node_last_seen')
