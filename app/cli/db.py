"""`flask db ...`: the MariaDB servers (primary, replicas) as data, and promoting a replica."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as OrmSession

from app.cli import cli_actor, domain_command, fail, read_command
from app.db import Session, make_engine
from app.services import db_servers


def _row(server) -> dict:
    return {"name": server.name, "host": server.host, "port": server.port, "role": server.role,
            "hosting_provider": server.hosting_provider, "max_connections": server.max_connections}


def register(app: Flask) -> None:
    """Attach the db group."""

    @app.cli.group("db")
    def db_group():
        """The database servers nodes read (primary and replicas)."""

    @db_group.group("server")
    def server_group():
        """Add, list and remove database servers."""

    @server_group.command("add")
    @click.argument("name")
    @click.option("--host", required=True, help="IP address or DNS name nodes and the admin connect to.")
    @click.option("--port", default="3306", show_default=True, help="TCP port.")
    @click.option("--role", required=True, type=click.Choice(db_servers.ROLES), help="primary (the admin writes to it) or replica.")
    @click.option("--hosting-provider", required=True, help="Where it runs: nodes at the same provider read it first.")
    @click.option("--max-connections", default="151", show_default=True,
                  help="The server's max_connections (MariaDB's default 151): node render warns when the fleet's pools exceed it.")
    @domain_command
    def add_cmd(name, host, port, role, hosting_provider, max_connections):
        """Add database server NAME."""
        session = Session()
        server, _ = db_servers.save(session, {"name": name, "host": host, "port": port, "role": role,
                                              "hosting_provider": hosting_provider, "max_connections": max_connections},
                                    cli_actor())
        session.commit()
        click.echo(f"added {server.role} {server.name} ({server.host}:{server.port}, {server.hosting_provider})")
        click.echo("next: render and deploy every node again (flask --app wsgi node render NODE ...): the new server is "
                   "added to their read order", err=True)

    @server_group.command("list")
    @click.option("--json", "as_json", is_flag=True, help="One JSON array of objects: name, host, port, role, "
                  "hosting_provider, max_connections.")
    @domain_command
    @read_command
    def list_cmd(as_json):
        """List the database servers, the primary first."""
        servers = db_servers.all_servers(Session())
        if as_json:
            click.echo(json.dumps([_row(s) for s in servers], indent=2))
            return
        if not servers:
            click.echo("no database servers: nodes read the admin's DATABASE_URL (flask --app wsgi db server add ...)")
            return
        click.echo(f"{'name':<16} {'role':<8} {'host:port':<28} {'hosting provider':<20} max_connections")
        for s in servers:
            click.echo(f"{s.name:<16} {s.role:<8} {s.host + ':' + str(s.port):<28} {s.hosting_provider:<20} {s.max_connections}")

    @server_group.command("remove")
    @click.argument("name")
    @domain_command
    def remove_cmd(name):
        """Remove database server NAME (its exact name)."""
        session = Session()
        server = db_servers.get(session, name)
        db_servers.delete(session, server, cli_actor())
        session.commit()
        click.echo(f"removed {server.name}")
        click.echo("next: flask --app wsgi db push-nodes (the running nodes stop reading it; or render and deploy them "
                   "again)", err=True)

    @db_group.command("promote")
    @click.argument("name")
    @click.option("--force", is_flag=True, help="Promote even if the replica has not applied everything it received "
                  "(that part is lost) or the primary still answers.")
    @click.option("--wait", default=5.0, show_default=True, type=click.FloatRange(min=0),
                  help="Seconds to let the replica apply what it received.")
    @click.option("--admin-user", default=None, help="Account allowed to manage replication (default: DATABASE_URL's).")
    @click.option("--admin-password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
                  help="File holding that account's password (default: DATABASE_URL's).")
    @click.option("--at", default=None, metavar="HOST:PORT",
                  help="NAME's address, when the database of DATABASE_URL (the old primary) does not answer.")
    @click.option("--push/--no-push", default=True, show_default=True,
                  help="Rewrite every live node's database files over AMI and reload them (needs TRUNKLINE_AMI_SECRET).")
    @click.option("--retry", "retry_for", default=30.0, show_default=True,
                  help="Seconds to keep trying nodes that do not answer (every 5 s).")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Also write each updated node's files into OUT/NODE/ (the node's passwords: mode 0600).")
    @domain_command
    def promote_cmd(name, force, wait, admin_user, admin_password_file, at, push, retry_for, out_dir):
        """Make replica NAME the primary, repoint the other replicas, record the roles, update the nodes.

        Reads the servers from NAME itself (the primary may be gone). Then every live node gets its new read
        order and CDR server over AMI (app/node_reconfig.py); exit status 3 when the promotion is done but a
        node could not be updated (listed, with what to deploy). Afterwards point the admin's DATABASE_URL at NAME.
        """
        from app.dbpromote import Endpoint, answers, promote

        url = make_url(current_app.config["DATABASE_URL"])
        if not url.drivername.startswith(("mysql", "mariadb")):
            fail("promotion needs MariaDB: DATABASE_URL is not a MariaDB URL")
        user = admin_user or url.username or "root"
        password = admin_password_file.read_text().strip() if admin_password_file else (url.password or "")
        # The topology is read on the candidate itself once we know its address: the primary may be gone.
        if at:
            host, _, port_text = at.rpartition(":")
            if not host or not port_text.isdigit():
                fail(f"--at must be HOST:PORT, not '{at}'")
            port = int(port_text)
            if not 1 <= port <= 65535:
                fail(f"--at {at}: {port} is not a port (1-65535)")
            if not answers(Endpoint(name, host, port, user, password)):
                fail(f"nothing answers as a database server at --at {host}:{port} ({name}'s address): check it, "
                     "and that mariadbd runs there")
        elif answers(Endpoint("DATABASE_URL", url.host or "127.0.0.1", url.port or 3306, user, password)):
            known = db_servers.get(Session(), name)
            host, port = known.host, known.port
            Session.rollback()
        else:
            fail(f"the database of DATABASE_URL does not answer: give {name}'s address, e.g. --at 10.0.0.12:3306")
        target_url = url.set(host=host, port=port)
        engine = make_engine(target_url.render_as_string(hide_password=False))
        session = OrmSession(engine, expire_on_commit=False)
        try:
            servers = db_servers.all_servers(session)
            candidate = next((s for s in servers if s.name == name), None)
            if candidate is None:
                fail(f"no database server {name}")
            if candidate.role == "primary":
                fail(f"{name} is already the primary")
            old = db_servers.primary(session)

            def ep(s):
                return Endpoint(s.name, s.host, s.port, user, password)

            others = [ep(s) for s in servers if s.role == "replica" and s is not candidate]
            report = promote(ep(candidate), ep(old) if old else None, others, force=force, wait=wait)
            db_servers.set_primary(session, candidate, cli_actor())
            session.commit()
            click.echo(f"{name} is the primary ({candidate.host}:{candidate.port})")
            for r in report.repointed:
                click.echo(f"repointed replica {r} to {name}")
            for r in report.unreachable:
                click.echo(f"warning: replica {r} did not answer: repoint it when it is back "
                           f"(CHANGE MASTER TO MASTER_HOST='{candidate.host}', MASTER_PORT={candidate.port}, "
                           "MASTER_USE_GTID=slave_pos; START SLAVE)", err=True)
            for note in report.notes:
                click.echo(f"note: {note}", err=True)
            left = _update_nodes(session, push, retry_for, out_dir)
        finally:
            session.close()
            engine.dispose()
        click.echo(f"next: point DATABASE_URL at {candidate.host}:{candidate.port}")
        if left:
            raise SystemExit(3)

    @db_group.command("push-nodes")
    @click.argument("names", nargs=-1, metavar="[NODE]...")
    @click.option("--retry", "retry_for", default=30.0, show_default=True,
                  help="Seconds to keep trying nodes that do not answer (every 5 s).")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Also write each updated node's files into OUT/NODE/ (the node's passwords: mode 0600).")
    @domain_command
    def push_nodes_cmd(names, retry_for, out_dir):
        """Bring live nodes (default: all) up to date with the database servers over AMI, as `db promote` does.

        For the nodes a promotion could not reach, and after `db server remove` (after `db server add` nodes need
        odbc.ini from `node render`, which AMI cannot write). Exit status 3 when a node could not be updated
        (listed, with what to deploy).
        """
        from app.models import Node

        session = Session()
        unknown = sorted(set(names) - {n.name for n in session.query(Node).filter(Node.name.in_(names))}) if names else []
        if unknown:
            fail(f"no node {', '.join(unknown)}")
        left = _update_nodes(session, True, retry_for, out_dir, list(names) or None)
        session.rollback()
        if left:
            raise SystemExit(3)


def _render_hint(session, name: str) -> str:
    """The whole `node render` command for node `name` (every option it needs), as its node page shows it."""
    from app.nodeconf import render_command
    from app.services import nodes

    command, _note = render_command(session, nodes.get(session, name))
    return f"{command} (FILE: the password `flask --app wsgi node account {name}` printed; with TRUNKLINE_AMI_SECRET set)"


def _update_nodes(session, push: bool, retry_for: float, out_dir: Path | None, names: list[str] | None = None) -> int:
    """Push the read order to every live node or those named (app.node_reconfig); print one line a node; how many
    were left."""
    from sqlalchemy import select

    from app.models import Node
    from app.node_push import ami_settings
    from app.node_reconfig import push_all
    from app.nodeconf import write_node
    from app.projection.rows import LIVE_NODE_STATES

    secret, port = ami_settings()
    if not push or not secret:
        why = "--no-push" if not push else "TRUNKLINE_AMI_SECRET is not set"
        query = select(Node.name).where(Node.state.in_(LIVE_NODE_STATES)).order_by(Node.name)
        listed = list(session.scalars(query.where(Node.name.in_(names)) if names else query))
        for n in listed:
            click.echo(f"{n}: not updated ({why}): re-render and deploy it: {_render_hint(session, n)}",
                       err=True)
        return len(listed)
    left = 0
    for result in push_all(session, secret, port, retry_for=retry_for, names=names, log=lambda m: click.echo(m, err=True)):
        if result.status in ("updated", "unchanged"):
            what = f" ({', '.join(result.changed)} rewritten and reloaded)" if result.changed else ""
            click.echo(f"{result.node}: {result.status}{what}")
            if out_dir is not None:
                write_node(result.files, out_dir / result.node)
        elif result.status == "unreachable":
            left += 1
            click.echo(f"{result.node}: not reached ({result.message}): when it is back, run flask --app wsgi db push-nodes "
                       f"{result.node}, or re-render and deploy it: {_render_hint(session, result.node)}", err=True)
        else:
            left += 1
            click.echo(f"{result.node}: not updated: {result.message}", err=True)
    return left

