"""Sign in and sign out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from app.db import Session
from app.services import users

bp = Blueprint("auth", __name__, template_folder="templates", static_folder="static", static_url_path="/tl-static")


class SignInForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host), else the dashboard."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        result = users.authenticate(Session(), form.email.data, form.password.data, request.remote_addr or "unknown")
        Session.commit()
        if result.user is not None:
            session.clear()  # no session fixation: a fresh session (and CSRF token) after sign-in
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME without use
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")))
        flash(result.message, "error")
        status = 429 if result.throttled else 401
    elif request.method == "POST":
        status = 400
    return render_template("trunkline/login.html", form=form), status


@bp.post("/logout")
def logout():
    """Sign out on the server: the user's session token changes, so every earlier cookie of the user is refused."""
    if current_user.is_authenticated:
        users.end_sessions(Session(), current_user._get_current_object())
        Session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
