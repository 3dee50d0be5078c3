"""Database servers (the primary and its replicas, the read order nodes follow); one cdr row per CDR

Revision ID: 0003h
Revises: 0003g
Create Date: 2026-11-30 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003h'
down_revision = '0003g'
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
    op.create_table('node_local_copies',
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('rendered_at', sa.DateTime(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_node_local_copies_node_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('node_id', name=op.f('pk_node_local_copies'))
    )
    # A CDR may now arrive twice (directly, and shipped from the node's spool): one row per (uniqueid, sequence).
    # Rows written before nodes had a systemname may share both (two nodes, same second): the later copies keep
    # their row and lose only the sequence number, which nothing reads, so the index can be built.
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute('UPDATE cdr SET sequence = NULL WHERE uniqueid IS NOT NULL AND sequence IS NOT NULL AND id NOT IN '
                   '(SELECT MIN(id) FROM cdr GROUP BY uniqueid, sequence)')
    else:
        op.execute('UPDATE cdr c JOIN (SELECT uniqueid, sequence, MIN(id) AS keep FROM cdr '
                   'WHERE uniqueid IS NOT NULL AND sequence IS NOT NULL GROUP BY uniqueid, sequence HAVING COUNT(*) > 1) d '
                   'ON c.uniqueid = d.uniqueid AND c.sequence = d.sequence AND c.id <> d.keep SET c.sequence = NULL')
    op.create_index('uq_cdr_uniqueid_sequence', 'cdr', ['uniqueid', 'sequence'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_cdr_uniqueid_sequence', table_name='cdr')
    op.drop_table('node_local_copies')
    op.drop_table('db_servers')
