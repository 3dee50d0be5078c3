"""`flask users ...`: admin web accounts."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from app.cli import cli_actor, domain_command, fail, read_command
from app.db import Session
from app.models import User
from app.models.user import ROLES
from app.services import users

DEMO_ADMIN = "admin@example.com"


def register(app: Flask) -> None:
    """Attach the users group."""

    @app.cli.group("users")
    def users_group():
        """Accounts that sign in to the admin web (roles: admin, operator, viewer)."""

    @users_group.command("create")
    @click.argument("email")
    @click.option("--role", type=click.Choice(ROLES), required=True, help="admin: everything; operator: telecom data; viewer: read only.")
    @click.option("--password", default=None, help="The password (prompted when omitted; at least 12 characters).")
    @domain_command
    def create_cmd(email: str, role: str, password: str | None):
        """Create an account."""
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        user = users.create(Session(), email, role, password, cli_actor())
        Session.commit()
        click.echo(f"created {user.role} {user.email}")

    @users_group.command("set-password")
    @click.argument("email")
    @click.option("--password", default=None, help="The new password (prompted when omitted).")
    @domain_command
    def set_password_cmd(email: str, password: str | None):
        """Change an account's password (signs it out everywhere)."""
        user = Session().scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            fail(f"no account {email}")
        if password is None:
            password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        users.update(Session(), user, cli_actor(), password=password)
        Session.commit()
        click.echo(f"password changed for {user.email}")

    @users_group.command("list")
    @domain_command
    @read_command
    def list_cmd():
        """List accounts."""
        for user in Session().scalars(select(User).order_by(User.email)):
            click.echo(f"{user.email}\t{user.role}\t{'active' if user.active else 'disabled'}")

    @users_group.command("ensure-demo-admin")
    @domain_command
    def ensure_demo_admin_cmd():
        """Create admin@example.com with a generated password, printed once; does nothing when it exists."""
        if Session().scalar(select(User).where(User.email == DEMO_ADMIN)) is not None:
            click.echo(f"{DEMO_ADMIN} already exists (change its password with `flask --app wsgi users set-password {DEMO_ADMIN}`)")
            return
        password = users.generate_password()
        users.create(Session(), DEMO_ADMIN, "admin", password, cli_actor())
        Session.commit()
        click.echo(f"created admin {DEMO_ADMIN} with password: {password}")
        click.echo("This password is shown only now: write it down.")

    @users_group.command("demo-login-hint")
    def demo_login_hint_cmd():
        """Print how to sign in to the admin web."""
        exists = Session().scalar(select(User).where(User.email == DEMO_ADMIN)) is not None
        if exists:
            click.echo(f"Sign in as {DEMO_ADMIN} with the password printed when it was created;")
            click.echo(f"forgot it? .venv/bin/flask --app wsgi users set-password {DEMO_ADMIN}")
        else:
            click.echo("No demo admin yet: flask --app wsgi users ensure-demo-admin (or users create EMAIL --role admin)")
