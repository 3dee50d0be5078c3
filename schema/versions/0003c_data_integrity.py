"""Data that cannot be corrupted: ASCII-only E.164 numbers, an active client needs a node

Revision ID: 0003c
Revises: 0003h
Create Date: 2026-11-30 16:50:00

Existing rows are checked first, so the upgrade either succeeds or stops with one sentence naming
what to correct (MariaDB would otherwise refuse the new CHECK constraint with a bare error):
- a number stored with non-ASCII digits (full-width ２, Arabic-Indic ٢, ...) is rewritten in ASCII
  digits when that number is not stored a second time; otherwise the upgrade stops and names both;
- an active client without a node stops the upgrade (give it a node, or suspend it).
Run `flask --app wsgi realtime rebuild` after an upgrade that rewrote numbers.
"""
from alembic import context, op
import sqlalchemy as sa

from app.models.number import E164_ASCII_MARIADB, E164_ASCII_SQLITE
from app.numbering import ascii_forms

revision = '0003c'
down_revision = '0003h'
branch_labels = None
depends_on = None


def _check_existing_rows(bind) -> None:
    problems = []
    rows = bind.execute(sa.text("SELECT id, e164 FROM phone_numbers")).fetchall()
    stored = {e164 for _id, e164 in rows}
    for number_id, e164 in rows:
        if e164.isascii():
            continue
        fixed = ascii_forms(e164)
        if fixed in stored:
            problems.append(f"number {e164!r} (id {number_id}) is also stored as {fixed}: delete one of them")
        elif not fixed.isascii():
            problems.append(f"number {e164!r} (id {number_id}) holds characters that are not digits: correct it")
        else:
            bind.execute(sa.text("UPDATE phone_numbers SET e164 = :e WHERE id = :i"), {"e": fixed, "i": number_id})
            stored.add(fixed)
    for account, in bind.execute(sa.text("SELECT account_code FROM clients WHERE status = 'active' AND node_id IS NULL")):
        problems.append(f"client {account} is active without a node: give it a client-facing node or suspend it")
    if problems:
        raise RuntimeError("cannot upgrade to 0003c until these are corrected: " + "; ".join(problems))


def upgrade() -> None:
    bind = op.get_bind()
    if not context.is_offline_mode():
        _check_existing_rows(bind)
    e164_ascii = E164_ASCII_SQLITE if bind.dialect.name == "sqlite" else E164_ASCII_MARIADB
    with op.batch_alter_table('phone_numbers', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_phone_numbers_e164_ascii'), e164_ascii)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_clients_active_needs_node'), "status <> 'active' OR node_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_clients_active_needs_node'), type_='check')
    with op.batch_alter_table('phone_numbers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_phone_numbers_e164_ascii'), type_='check')
