"""After a promotion, rewrite over AMI what each live node reads from the database servers, and reload it.

A promotion changes only the order of the servers a node reads and which one takes its CDRs. `node render`
names the node's res_odbc connections by position (trunkline, trunkline_2, ...) and the odbc.ini DSNs they open
by server (trunkline-<server>), so the files that change are those inside Asterisk's configuration directory:
res_odbc.conf (which DSN each connection opens), cdr_adaptive_odbc.conf (the CDR connection) and, when the
number of servers a node reads changes, extconfig.conf and func_odbc.conf. odbc.ini (usually /etc/odbc.ini)
is outside the directory the manager interface may write (main/manager.c is_restricted_file) and a promotion
leaves it as it is; a node whose res_odbc.conf does not already name every DSN the new order needs (rendered
before DSNs were named by server, or with another server list) is reported, not changed: deploy it by hand.

Per node, over one AMI session (app.node_push.AmiSession, the account `node render` writes):
1. GetConfig of the four files (class system or config): what the node runs now; its database account, password,
   pool and timeout are taken from its res_odbc.conf, so the push changes nothing but the topology;
2. the four files rendered as `node render` would now write them, with those values (app.nodeconf.render_node);
3. every file that differs (compared as categories of name/value lines, comments ignored) is rewritten with
   UpdateConfig (class config: manager.conf gives it to the admin's account, from the admin networks only):
   DelCat of every category, then NewCat/Append of the new ones, in requests of at most ACTIONS_PER_REQUEST
   actions (an AMI message holds at most 128 headers, include/asterisk/manager.h AST_MAX_MANAGER_HEADERS), built
   in a staging file so that the file itself is written once (update_requests);
4. the modules of the changed files are reloaded, res_odbc first (Reload, class system): res_odbc.c reload()
   marks every connection class for deletion, registers the new ones one by one (linked before it pre-connects)
   and unlinks the old; a query running on an old connection finishes on it, the next one uses the new class.
   While the classes are re-registered (at most one connect timeout per class whose server does not answer),
   a look-up on a class not yet registered fails over to the next one like on a database failure;
5. GetConfig again: the node must now hold exactly the new files.
Sorcery caches are not touched (sorcery.conf: they are not reloaded), calls in progress go on.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Node
from app.node_push import AmiError, AmiSession
from app.projection.rows import LIVE_NODE_STATES

# The files a promotion changes, and the module that reads each, in the order they are reloaded.
FILES = (("res_odbc.conf", "res_odbc.so"), ("extconfig.conf", "extconfig"), ("func_odbc.conf", "func_odbc.so"),
         ("cdr_adaptive_odbc.conf", "cdr_adaptive_odbc.so"))
ACTIONS_PER_REQUEST = 25  # 4 headers each + Action/SrcFilename/DstFilename/ActionID: within 128 headers
TIMEOUT = 10.0  # seconds for one AMI answer (a reload of res_odbc pre-connects every class)
STAGING = "trunkline-staging.conf"  # in the node's configuration directory; read by no module

Config = list[tuple[str, list[tuple[str, str]]]]  # [(category, [(name, value)...])...] in file order


class NodeNeedsDeploy(Exception):
    """The node cannot be brought up to date over AMI; str() says what to deploy."""


@dataclass
class NodeResult:
    """What the push did on one node. status: updated, unchanged, unreachable, deploy (needs files by hand)."""

    node: str
    status: str
    changed: list[str] = field(default_factory=list)
    message: str = ""
    files: dict[str, str] = field(default_factory=dict)  # the four files as the node now has them (updated/unchanged)


_CAT = re.compile(r"^\[([^\]]+)\](\([^)]*\))?$")


def parse_config(text: str) -> Config:
    """An Asterisk .conf text as categories of (name, value) lines: ';' comments dropped, `=` and `=>` alike.

    Enough for the files `node render` writes (no #include, no templates, no escaped ';')."""
    out: Config = []
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        m = _CAT.match(line)
        if m:
            out.append((m.group(1).strip(), []))
            continue
        name, sep, value = line.partition("=")
        if not sep or not out:
            continue
        out[-1][1].append((name.strip(), value.lstrip(">").strip()))
    return out


def from_getconfig(answer: dict[str, str]) -> Config:
    """GetConfig's answer (Category-NNNNNN, Line-NNNNNN-MMMMMM: name=value; main/manager.c action_getconfig)."""
    cats: dict[int, tuple[str, list[tuple[str, str]]]] = {}
    lines: list[tuple[int, int, str, str]] = []
    for key, value in answer.items():
        if key.startswith("Category-"):
            cats[int(key[9:])] = (value, [])
        elif key.startswith("Line-"):
            c, n = key[5:].split("-")
            name, _, val = value.partition("=")
            lines.append((int(c), int(n), name.strip(), val.strip()))
    for c, _n, name, val in sorted(lines):
        if c in cats:
            cats[c][1].append((name, val))
    return [cats[c] for c in sorted(cats)]


def update_requests(filename: str, old: Config, new: Config, staging: str = STAGING) -> list[dict[str, str]]:
    """UpdateConfig requests that turn old into new: every old category deleted, the new ones written.

    When it takes several requests, all but the last write the staging file (Src the file, then the staging file)
    and only the last writes the file itself: a session cut off half-way leaves the file as it was, never half
    rewritten. The staging file must exist (UpdateConfig canonicalises both names: `CreateConfig` it first)."""
    actions = [("DelCat", cat, "", "") for cat in dict.fromkeys(c for c, _ in old)]
    for cat, lines in new:
        actions.append(("NewCat", cat, "", ""))
        actions += [("Append", cat, name, value) for name, value in lines]
    requests = []
    starts = list(range(0, len(actions), ACTIONS_PER_REQUEST))
    for n, start in enumerate(starts):
        src = filename if n == 0 else staging
        dst = filename if n == len(starts) - 1 else staging
        req = {"Action": "UpdateConfig", "SrcFilename": src, "DstFilename": dst, "PreserveEffectiveContext": "no"}
        for i, (action, cat, name, value) in enumerate(actions[start:start + ACTIONS_PER_REQUEST]):
            req[f"Action-{i:06d}"] = action
            req[f"Cat-{i:06d}"] = cat
            if action == "DelCat":
                req[f"Options-{i:06d}"] = "ignoreerror"
            if action == "Append":
                req[f"Var-{i:06d}"] = name
                req[f"Value-{i:06d}"] = value
        requests.append(req)
    return requests


def _values(config: Config, name: str) -> list[str]:
    return [v for _, lines in config for k, v in lines if k == name]


def node_settings(res_odbc: Config):
    """NodeSettings carrying what the node's res_odbc.conf says about its account, pool and timeout."""
    from app.nodeconf import NodeSettings

    if not res_odbc:
        raise NodeNeedsDeploy("its res_odbc.conf has no connection: deploy it with `flask --app wsgi node render`")
    first_name, first = res_odbc[0]
    values = dict(first)
    try:
        return NodeSettings(dsn=first_name, db_user=values.get("username", ""), db_password=values.get("password", ""),
                            db_timeout=int(values.get("connect_timeout", "1")),
                            pool=int(values["max_connections"]) if "max_connections" in values else None)
    except ValueError as exc:
        raise NodeNeedsDeploy(f"its res_odbc.conf is not one `node render` wrote ({exc})") from None


def _get(ami: AmiSession, filename: str) -> Config:
    answer = ami.request({"Action": "GetConfig", "Filename": filename})
    if answer.get("Response") != "Success":
        raise NodeNeedsDeploy(f"GetConfig {filename} answered: {answer.get('Message', answer)}")
    return from_getconfig(answer)


def push_node(session: Session, node: Node, secret: str, port: int, timeout: float = TIMEOUT) -> NodeResult:
    """Bring one node's database files up to date over AMI (OSError/AmiError: not reached; NodeNeedsDeploy)."""
    from app.nodeconf import render_node

    with AmiSession(node.public_ip, port, secret, timeout) as ami:
        current = {name: _get(ami, name) for name, _ in FILES}
        settings = node_settings(current["res_odbc.conf"])
        rendered = render_node(session, node.name, settings)
        new = {name: parse_config(rendered[name]) for name, _ in FILES}
        missing = sorted(set(_values(new["res_odbc.conf"], "dsn")) - set(_values(current["res_odbc.conf"], "dsn")))
        if missing:
            raise NodeNeedsDeploy(f"its odbc.ini may lack the DSN {', '.join(missing)} (outside the directory AMI may "
                                  "write): deploy odbc.ini and res_odbc.conf from `flask --app wsgi node render`")
        changed = [name for name, _ in FILES if new[name] != current[name]]
        if changed:
            ami.request({"Action": "CreateConfig", "Filename": STAGING})  # fails harmlessly when it exists
        for name in changed:
            for req in update_requests(name, current[name], new[name]):
                answer = ami.request(req)
                if answer.get("Response") != "Success":
                    raise AmiError(f"UpdateConfig {name} answered: {answer.get('Message', answer)}")
        for name, module in FILES:
            if name in changed:
                answer = ami.request({"Action": "Reload", "Module": module})
                if answer.get("Response") != "Success":
                    raise AmiError(f"reloading {module} answered: {answer.get('Message', answer)}")
        now = {name: _get(ami, name) for name in changed}
        wrong = [name for name in changed if now[name] != new[name]]
        if wrong:
            raise AmiError(f"{', '.join(wrong)} differ from what was written")
    return NodeResult(node.name, "updated" if changed else "unchanged", changed,
                      files={name: rendered[name] for name, _ in FILES})


def push_all(session: Session, secret: str, port: int, *, retry_for: float = 30.0, every: float = 5.0,
             names: list[str] | None = None, timeout: float = TIMEOUT, log=None) -> list[NodeResult]:
    """push_node on every live node (or those named); a node not reached is tried again every `every` seconds
    for `retry_for` seconds, then reported `unreachable`. Results in node-name order."""
    query = select(Node).where(Node.state.in_(LIVE_NODE_STATES)).order_by(Node.name)
    if names:
        query = query.where(Node.name.in_(names))
    nodes = list(session.scalars(query))
    results: dict[str, NodeResult] = {}
    pending = list(nodes)
    deadline = time.monotonic() + retry_for
    while pending:
        left = []
        for node in pending:
            try:
                results[node.name] = push_node(session, node, secret, port, timeout)
            except NodeNeedsDeploy as exc:
                results[node.name] = NodeResult(node.name, "deploy", message=str(exc))
            except (OSError, AmiError) as exc:
                results[node.name] = NodeResult(node.name, "unreachable", message=f"{node.public_ip}:{port}: {exc}")
                left.append(node)
        pending = left
        if not pending or time.monotonic() + every > deadline:
            break
        if log:
            log(f"not reached yet: {', '.join(n.name for n in pending)}; trying again in {every:g} s")
        time.sleep(every)
    return [results[n.name] for n in nodes]
