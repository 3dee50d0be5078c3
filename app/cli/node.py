"""`flask node ...`: the static Asterisk configuration of a node, rendered from the database."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from app.cli import cli_actor, domain_command, fail, setup_error
from app.db import Session, utc_now
from app.models import NodeAccount
from app.nodeconf import (
    LOOKUPS,
    NodeSettings,
    local_copy,
    record_local_copy,
    render_node,
    render_warnings,
    settings_warnings,
    write_node,
)
from app.services import node_accounts
from app.services import nodes as node_service

PASSWORD_ENV = "TRUNKLINE_NODE_DB_PASSWORD"


def register(app: Flask) -> None:
    """Attach the node group."""

    @app.cli.group("node")
    def node_group():
        """Asterisk node configuration."""

    @node_group.command("expire-caches")
    @click.argument("names", nargs=-1, metavar="[NODE]...")
    @domain_command
    def expire_cmd(names):
        """Tell live nodes (default: all) over AMI to expire every cached endpoint, AOR, auth and identify row.

        Nodes keep what they read until told (sorcery.conf). Changes a node missed are kept in the database and
        retried on their own (`node push-pending`, `node push-retry`); this is the big hammer, e.g. after restoring
        the database from a backup. Every object is read again on its next use: run it only while the nodes can
        read a database.
        """
        from app.node_push import EXPIRE_ALL, AmiError, send_actions

        secret, port, targets = _ami_targets(names)
        failed = 0
        for node in targets:
            try:
                send_actions(node.public_ip, port, secret, EXPIRE_ALL)
                click.echo(f"{node.name}: caches expired")
            except (OSError, AmiError) as exc:
                failed += 1
                click.echo(f"{node.name}: not reached ({exc})", err=True)
        if failed:
            raise SystemExit(1)

    @node_group.command("push-pending")
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON list: node, changes, since, attempts, last_error, objects.")
    @domain_command
    def push_pending_cmd(as_json):
        """List the changes live nodes have not yet acknowledged (they still hold the old cached objects).

        Written with each change that rewrote cached endpoints, AORs, auths or identify rows; cleared once the
        node has expired them. `node push-retry` tells them now; the admin web and `alerts watch` retry every 15 s.
        JSON keys: node, changes (commits), since (UTC, ISO 8601), attempts, last_error, objects ({cache: ids}; "all").
        """
        from app.node_push import pending

        entries = sorted(pending(Session()).values(), key=lambda e: e["node"])
        if as_json:
            click.echo(json.dumps([{"node": e["node"], "changes": e["changes"], "since": e["since"].isoformat(timespec="seconds"),
                                    "attempts": e["attempts"], "last_error": e["last_error"],
                                    "objects": "all" if "all" in e["objects"] else {k: sorted(v) for k, v in sorted(e["objects"].items())}}
                                   for e in entries]))
            return
        if not entries:
            click.echo("every live node has every change")
        for e in entries:
            last = f"; {e['attempts']} failed attempt(s), last: {e['last_error']}" if e["attempts"] else ""
            click.echo(f"{e['node']}: {e['changes']} change(s) not yet on this node since {e['since']:%Y-%m-%d %H:%M:%S} UTC{last}")

    @node_group.command("push-retry")
    @click.argument("names", nargs=-1, metavar="[NODE]...")
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON list: node, changes, told, error.")
    @domain_command
    def push_retry_cmd(names, as_json):
        """Tell the nodes (default: every one with pending changes) what they missed, once; exit 1 if one was not told.

        What `alerts watch` and the admin web do every 15 s (app.node_push.retry_pending).
        """
        from app.node_push import ami_settings, retry_pending

        secret, port = ami_settings()
        if not secret:
            fail("TRUNKLINE_AMI_SECRET (or AMI_SECRET) is not set: the nodes' manager interface is off")
        results = retry_pending(Session().get_bind(), secret, port, names or None)
        if as_json:
            click.echo(json.dumps([{"node": r["node"], "changes": r["changes"], "told": r["told"], "error": r["error"]}
                                   for r in results]))
        elif not results:
            click.echo("nothing pending" + (f" for {', '.join(names)}" if names else ""))
        for r in results if not as_json else ():
            if r["told"]:
                click.echo(f"{r['node']}: told {r['changes']} change(s)")
            else:
                click.echo(f"{r['node']}: not told ({r['error']})", err=True)
        if any(not r["told"] for r in results):
            raise SystemExit(1)

    @node_group.command("warm-caches")
    @click.argument("names", nargs=-1, metavar="[NODE]...")
    @domain_command
    def warm_cmd(names):
        """Have live nodes (default: all) read every endpoint they serve, with its AORs and auths, into their caches.

        Objects a node has never used are otherwise read on first use, which fails while no database answers.
        The admin web and `alerts watch` do this on their own for each node that (re)started (CoreStatus).
        """
        from app.node_push import AmiError, warm_node

        secret, port, targets = _ami_targets(names)
        failed = 0
        for node in targets:
            try:
                found = warm_node(node.public_ip, port, secret)
                click.echo(f"{node.name}: {found} endpoint(s) read with their AORs and auths")
            except (OSError, AmiError) as exc:
                failed += 1
                click.echo(f"{node.name}: not reached ({exc})", err=True)
        if failed:
            raise SystemExit(1)

    @node_group.command("account")
    @click.argument("node_name", metavar="NODE")
    @click.option("--rotate", is_flag=True,
                  help="Give the existing account a new password (the old one stops working); recreates an account MariaDB lost.")
    @click.option("--host", "host", default=None,
                  help="Where the node may connect from: an address or a MariaDB pattern such as 10.0.0.% (default: the node's public address).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the keys user, host and password.")
    @_database_errors
    @domain_command
    def account_cmd(node_name, rotate, host, as_json):
        """Create NODE's own database account (or rotate its password, recreating it if MariaDB lost it) and print the
        password once.

        The admin's database login needs CREATE USER and GRANT OPTION on the database (docs/nodes.md); what MariaDB
        refuses is one line naming the missing privilege, exit 1.
        """
        session = Session()
        node = node_service.get(session, node_name)
        done = node_accounts.provide(session, node, cli_actor(), host=host, rotate=rotate)
        account, password = done.account, done.password
        Session.commit()
        if done.action == "recreate":
            click.echo(f"MariaDB had no account {account.db_user} (dropped by hand or lost with a restored server): "
                       f"recreated {account} with its grants", err=True)
        if as_json:
            click.echo(json.dumps({"user": account.db_user, "host": account.host, "password": password}))
        else:
            click.echo(f"user:     {account.db_user}")
            click.echo(f"host:     {account.host}")
            click.echo(f"password: {password}")
            click.echo("The password is shown this once and stored nowhere: give it to `node render --db-password-file`.", err=True)

    @node_group.command("render")
    @click.argument("node_name", metavar="NODE")
    @click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                  help="Folder to write the files into (created).")
    @click.option("--db-url", envvar="TRUNKLINE_NODE_DB_URL", default=None,
                  help="MariaDB URL the node reads (default: DATABASE_URL). Env TRUNKLINE_NODE_DB_URL.")
    @click.option("--db-password-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help=f"File holding the node account's password (default: env {PASSWORD_ENV}).")
    @click.option("--dsn", default="trunkline", show_default=True, help="ODBC DSN / res_odbc connection name.")
    @click.option("--odbc-driver", default="/usr/lib/x86_64-linux-gnu/odbc/libmaodbc.so", show_default=True,
                  help="MariaDB Connector/ODBC library, as the node sees it.")
    @click.option("--etc-dir", default="/etc/asterisk", show_default=True,
                  help="Where the node will read these files from (asterisk.conf astetcdir).")
    @click.option("--state-dir", default=None, help="One folder for lib/spool/run/log (default: Debian's layout).")
    @click.option("--admin-net", "admin_nets", multiple=True,
                  help="Network allowed to manage the node (repeatable). Env TRUNKLINE_ADMIN_NETWORKS, space-separated.")
    @click.option("--admin-port", "admin_ports", multiple=True, type=int, help="Management TCP port (repeatable; default 22).")
    @click.option("--rtp", default="10000-20000", show_default=True, help="RTP port range START-END.")
    @click.option("--pool", type=int, default=None, help="ODBC connections (default: sized from the node's channel limits).")
    @click.option("--cache-stale", type=int, default=0, show_default=True,
                  help="Seconds before a cached object is refreshed in the background (0: never; the admin's push expires it).")
    @click.option("--cache-max", type=int, default=0, show_default=True,
                  help="Seconds a cached object lives at most (0: until the admin's push expires it; an age limit drops "
                       "objects while no database answers).")
    @click.option("--db-timeout", type=int, default=1, show_default=True,
                  help="Seconds a look-up may wait on one database server (connect, read, write) before the next is tried.")
    @click.option("--verbose-log", is_flag=True, help="Also log verbose messages to messages.log (debugging).")
    @click.option("--lookup", type=click.Choice(LOOKUPS), default="odbc", show_default=True,
                  help="How the dialplan reads realtime keys: the realtime switch, or func_odbc (one query per key).")
    @click.option("--ami-secret", envvar="TRUNKLINE_AMI_SECRET", default=None,
                  help="AMI password the admin uses to expire cached objects after a change (default: TRUNKLINE_AMI_SECRET; empty: AMI off).")
    @_database_errors
    @domain_command
    def render_cmd(node_name, out_dir, db_url, db_password_file, dsn, odbc_driver, etc_dir, state_dir, admin_nets, admin_ports,
                   rtp, pool, cache_stale, cache_max, db_timeout, verbose_log, lookup, ami_secret):
        """Write NODE's Asterisk files (and its nftables rule set) into --out."""
        url = db_url or current_app.config["DATABASE_URL"]
        node = node_service.get(Session(), node_name)
        if node.state == "retired":
            fail(f"node {node_name} is retired: it has no database account and reads nothing, so nothing was rendered")
        if not admin_nets:
            admin_nets = tuple(os.environ.get("TRUNKLINE_ADMIN_NETWORKS", "").split())
        try:
            start, end = (int(p) for p in rtp.split("-", 1))
        except ValueError:
            fail(f"--rtp must be START-END, not '{rtp}'")
        if not 1024 <= start < end <= 65535:
            fail(f"--rtp range {rtp} is not within 1024-65535")
        if cache_stale < 0 or cache_max < 0 or (cache_max and cache_stale > cache_max):
            fail("--cache-stale and --cache-max must be 0 (never) or seconds, --cache-stale not above --cache-max")
        if not 1 <= db_timeout <= 30:
            fail("--db-timeout must be 1 to 30 seconds")
        if pool is not None and pool < 1:
            fail("--pool must be at least 1 connection per database server")
        for port in admin_ports:
            if not 1 <= port <= 65535:
                fail(f"--admin-port {port} is not a TCP port (1-65535)")
        try:
            settings = NodeSettings.from_database_url(
                url, dsn=dsn, odbc_driver=odbc_driver, etc_dir=etc_dir, state_dir=state_dir,
                admin_networks=_networks(admin_nets), admin_ports=list(admin_ports) or None, rtp_start=start, rtp_end=end,
                pool=pool, cache_stale=cache_stale, cache_max=cache_max, db_timeout=db_timeout, verbose_log=verbose_log, lookup=lookup,
                ami_secret=current_app.config.get("AMI_SECRET", "") if ami_secret is None else ami_secret,
                ami_port=current_app.config.get("AMI_PORT", 5038))
        except ValueError as exc:
            fail(str(exc))
        settings.rendered_at = utc_now()
        # The node connects with its own account: host, port and database come from the URL, never a user or
        # password in it (the admin's); the password only from --db-password-file or the environment.
        account = Session().scalar(select(NodeAccount).where(NodeAccount.node_id == node.id))
        if account is None and node_accounts.supported(Session()):
            fail(f"node {node_name} has no database account: create it with `flask --app wsgi node account {node_name}`")
        # SQLite (the demo) has no accounts: the files name the account the node will have on MariaDB.
        settings.db_user = account.db_user if account is not None else node_accounts.user_name(settings.db_name, node_name)
        settings.db_password = _password(db_password_file)
        if not settings.admin_networks:
            # The rule set admits SSH and the manager interface from these networks only: with none, loading it would
            # lock everyone out of the node.
            fail("--admin-net is needed (or TRUNKLINE_ADMIN_NETWORKS): the node's firewall lets only those networks reach "
                 "SSH and the manager interface, and with none nobody could manage the node")
        files = render_node(Session(), node_name, settings)
        # Files that would be written but not work on the node (no AMI secret, a database on the node's own loopback),
        # then the fleet's pools against the servers' max_connections.
        warnings = settings_warnings(Session(), node_name, settings, db_url_given=db_url is not None)
        if account is not None and node_accounts.exists_in_database(Session(), account) is False:
            warnings.append(f"database account {account} is recorded, but MariaDB has no such account: the node cannot "
                            f"connect with these files; recreate it with `{node_accounts.REPAIR.format(node=node_name)}` "
                            "and render again with the new password")
        for warning in warnings + render_warnings(Session(), settings):
            click.echo(f"warning: {warning}", err=True)
        try:
            written = write_node(files, out_dir)
        except OSError as exc:
            fail(f"--out {out_dir}: {exc.strerror or exc} ({exc.filename or out_dir})")
        # The node page shows when this node's local 911 copy was written (only once it was) and whether it is current.
        node = node_service.get(Session(), node_name)
        record_local_copy(Session(), node, local_copy(Session(), node), settings.rendered_at)
        Session.commit()
        for path in written:
            click.echo(str(path))


def _database_errors(func):
    """Outside domain_command (which handles domain errors and an unreachable server): any other database error is one
    line, exit 1: the setup hint for a database not created or a refused login (app.cli.setup_error), else the server's
    own message, never the statement or its parameters (which may hold a password)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DBAPIError as exc:
            Session.rollback()
            line = setup_error(exc, current_app.config["DATABASE_URL"])  # a database not created, a refused login
            if line is not None:
                fail(line)
            orig = getattr(exc, "orig", None)
            fail(f"the database refused: {str(orig if orig is not None else type(exc).__name__).splitlines()[0]}; nothing was saved")
        except SQLAlchemyError as exc:
            Session.rollback()
            fail(f"database error: {str(exc).splitlines()[0]}; nothing was saved")
    return wrapper


def _password(path: Path | None) -> str:
    if path is not None:
        try:
            password = path.read_text().strip()
        except OSError as exc:
            fail(f"--db-password-file {path}: {exc.strerror}")
        except UnicodeDecodeError:
            fail(f"--db-password-file {path}: not a text file (the password `node account` printed, one line)")
    else:
        password = os.environ.get(PASSWORD_ENV, "").strip()
    if not password:
        fail(f"the node account's password is needed: --db-password-file FILE or env {PASSWORD_ENV}")
    return password


def _networks(values) -> list[str]:
    import ipaddress

    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            fail(f"--admin-net '{value}' is not an IP network")
    return out


def _ami_targets(names) -> tuple[str, int, list]:
    """(AMI secret, port, the live nodes named, or all of them) for the commands that talk to nodes over AMI; one
    line and exit 1 when the manager interface is off or a name is not a live node."""
    from sqlalchemy import select

    from app.models import Node
    from app.node_push import ami_settings
    from app.projection.rows import LIVE_NODE_STATES

    secret, port = ami_settings()
    if not secret:
        fail("TRUNKLINE_AMI_SECRET (or AMI_SECRET) is not set: the nodes' manager interface is off")
    query = select(Node).where(Node.state.in_(LIVE_NODE_STATES)).order_by(Node.name)
    if names:
        query = query.where(Node.name.in_(names))
    targets = list(Session().scalars(query))
    unknown = sorted(set(names) - {n.name for n in targets})
    if unknown:
        fail(f"no live node {', '.join(unknown)}")
    return secret, port, targets
