"""Per-node database accounts and scoped realtime rows (issue 11)

node_accounts; tl_kind / tl_client on every projected realtime table (who may read the row);
cdr.tl_node (stamped by a trigger); on MariaDB/MySQL the scoped views and the CDR trigger, generated
from app.projection.visibility. Existing realtime rows get their scope with `flask realtime rebuild`.

Revision ID: 0003e
Revises: 0003c
Create Date: 2026-11-30 16:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003e'
down_revision = '0003c'
branch_labels = None
depends_on = None

PROJECTED = ("ps_endpoints", "ps_aors", "ps_auths", "ps_endpoint_id_ips", "ps_registrations", "ps_domain_aliases",
             "extensions")


def _mariadb() -> bool:
    return op.get_context().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    op.create_table('node_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('db_user', sa.String(length=80), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('rotated_at', sa.DateTime(), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=True),
    sa.Column('client', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_node_accounts_node_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_node_accounts')),
    sa.UniqueConstraint('db_user', name=op.f('uq_node_accounts_db_user')),
    sa.UniqueConstraint('node_id', name=op.f('uq_node_accounts_node_id'))
    )
    for table in PROJECTED:
        op.add_column(table, sa.Column('tl_kind', sa.String(length=16), nullable=True))
        op.add_column(table, sa.Column('tl_client', sa.String(length=20), nullable=True))
    op.add_column('cdr', sa.Column('tl_node', sa.String(length=32), nullable=True))
    if _mariadb():
        # Generated from the one description of who reads what (see its module docstring).
        from app.projection.visibility import create_statements

        for statement in create_statements():
            op.execute(statement)


def downgrade() -> None:
    if _mariadb():
        from app.projection.visibility import drop_statements

        for statement in drop_statements():
            op.execute(statement)
    op.drop_column('cdr', 'tl_node')
    for table in PROJECTED:
        op.drop_column(table, 'tl_client')
        op.drop_column(table, 'tl_kind')
    op.drop_table('node_accounts')
