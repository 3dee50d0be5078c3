"""Desired realtime rows computed from the domain, per owner (endpoint, number, trunk, routes)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from app.e911 import resolve_e911
from app.errors import E911Unresolved
from app.models import Carrier, Client, Node, PhoneNumber, Trunk
from app.numbering import format_number
from app.projection.names import (
    CTX_FROM_CARRIER,
    CTX_FROM_NODE,
    CTX_FROM_TRUNK,
    FORMAT_CODES,
    LIST_SEP,
    RT_E911,
    RT_NUMBER,
    RT_ROUTE,
    SEP,
)
from app.service_codes import DIAL_FORM_CODES
from app.sip_uri import split_username

Rows = dict[str, dict]  # table -> {key: row}

LIVE_NODE_STATES = ("active", "draining")
_MEDIA = {"disallow": "all", "direct_media": "no", "dtmf_mode": "rfc4733", "rtp_symmetric": "yes",
          "force_rport": "yes", "rewrite_contact": "no"}


def ext_row(context: str, exten: str, value: str) -> tuple[tuple, dict]:
    """One realtime lookup row: (context, exten, 1) Return(value)."""
    if len(value) > 256 or len(exten) > 40:
        raise ValueError(f"realtime row {context}/{exten} is too long for the extensions table")
    return (context, exten, 1), {"context": context, "exten": exten, "priority": 1, "app": "Return", "appdata": value}


def _add(rows: dict[str, dict], table: str, key, row: dict) -> None:
    rows.setdefault(table, {})[key] = row


def _identify(rows, endpoint: str, addresses: Iterable[str]) -> None:
    for index, address in enumerate(addresses, start=1):
        rid = f"{endpoint}-ip{index}"
        _add(rows, "ps_endpoint_id_ips", rid, {"id": rid, "endpoint": endpoint, "match": address})


def _first_host(addresses: list[str]) -> str | None:
    """The first address that is a single host (a /32 or bare IP): where calls are sent."""
    for address in addresses:
        if "/" not in address or address.endswith("/32") or address.endswith("/128"):
            return address.split("/")[0]
    return None


def _sip_uri(host: str, port: int) -> str:
    return f"sip:[{host}]:{port}" if ":" in host else f"sip:{host}:{port}"


def carrier_endpoint_rows(carrier: Carrier, rows: Rows) -> None:
    """Endpoint, AOR, identify, auth and registration rows of an enabled carrier."""
    ep = carrier.endpoint_id
    endpoint = {"id": ep, "aors": ep, "context": CTX_FROM_CARRIER, "allow": "ulaw,alaw", **_MEDIA,
                "identify_by": "ip", "send_pai": "yes" if carrier.send_pai else "no",
                # privacy_mode rpid: Asterisk writes Remote-Party-ID on every call, privacy=full when the
                # caller's presentation is restricted (res_pjsip_caller_id add_rpid_header). Mode pai with
                # send_pai off: the carrier node's dialplan adds PAI and "Privacy: id" on private calls only.
                "send_rpid": "yes" if carrier.privacy_mode == "rpid" else "no",
                # trust_id_inbound: carriers are the trust domain (RFC 3325), so the caller of an inbound call is
                # the carrier's P-Asserted-Identity (else Remote-Party-ID, else From): many send their billing or
                # pilot number in From and the real caller in PAI, or an anonymous From + PAI + "Privacy: id".
                # A withheld number goes on restricted to the client node and never reaches the PBX (trunk
                # endpoints: trust_id_outbound no; the client node adds only "Privacy: id", tl-privacy-pbx).
                # trust_connected_line no: the identity is the INVITE's; a carrier's later re-INVITE/UPDATE (or
                # the PAI of its answer) does not rewrite the call's caller ID, as before carriers were trusted.
                "trust_id_outbound": "yes", "trust_id_inbound": "yes", "trust_connected_line": "no",
                "set_var": f"TL_CARRIER={carrier.id}",
                "device_state_busy_at": carrier.max_channels or None}
    host = _first_host(carrier.address_list)
    aor = {"id": ep, "contact": _sip_uri(host, carrier.port) if host else None, "qualify_frequency": 30,
           "max_contacts": 0}
    if carrier.auth_mode == "register":
        auth_id = f"{ep}-auth"
        endpoint["outbound_auth"] = auth_id
        # `user@domain`: the user authenticates and is the Contact user; the domain is the registrar's,
        # so it names the AOR (client_uri, the To of the REGISTER) and the Request-URI (server_uri),
        # while the REGISTER still goes to the carrier's signalling address (outbound_proxy, loose route).
        user, domain = split_username(carrier.username)
        _add(rows, "ps_auths", auth_id, {"id": auth_id, "auth_type": "userpass", "username": user,
                                         "password": carrier.password})
        reg_id = f"{ep}-reg"
        address = _sip_uri(host or carrier.address_list[0].split("/")[0], carrier.port)
        registration = {
            "id": reg_id, "server_uri": address, "client_uri": address.replace("sip:", f"sip:{user}@", 1),
            "contact_user": user, "outbound_auth": auth_id, "retry_interval": 60,
            "forbidden_retry_interval": 300, "expiration": 3600, "line": "yes", "endpoint": ep,
        }
        if domain is not None:
            domain_uri = f"sip:[{domain}]" if ":" in domain else f"sip:{domain}"
            registration.update(server_uri=domain_uri, client_uri=domain_uri.replace("sip:", f"sip:{user}@", 1),
                                # ';' written as ^3B: Asterisk's realtime drivers split a value at ';'
                                # into several values and decode ^3B back into ';' (res_config_odbc).
                                outbound_proxy=f"{address}^3Blr")
            endpoint["from_domain"] = domain
        _add(rows, "ps_registrations", reg_id, registration)
    _add(rows, "ps_endpoints", ep, endpoint)
    _add(rows, "ps_aors", ep, aor)
    _identify(rows, ep, carrier.address_list)


def node_endpoint_rows(node: Node, rows: Rows) -> None:
    """Endpoint rows through which nodes reach one another (carrier side <-> client side)."""
    ep = node.endpoint_id
    _add(rows, "ps_endpoints", ep, {"id": ep, "aors": ep, "context": CTX_FROM_NODE, "allow": "ulaw,alaw", **_MEDIA,
                                    "identify_by": "ip", "trust_id_inbound": "yes", "trust_id_outbound": "yes",
                                    "send_pai": "yes", "set_var": f"TL_NODE={node.id}"})
    _add(rows, "ps_aors", ep, {"id": ep, "contact": _sip_uri(node.public_ip, node.sip_port), "qualify_frequency": 30,
                               "max_contacts": 0})
    _identify(rows, ep, [node.public_ip])


def trunk_vars(trunk: Trunk) -> str:
    """set_var of a trunk endpoint: TL_TRUNK=id/trunk max/client max/main number/its carrier id/blocked
    service codes joined by '-' (channel maxima: 0 = no limit)."""
    client = trunk.client
    main = client.main_number
    usable_main = main is not None and main.in_service
    return "TL_TRUNK=" + "/".join([str(trunk.id), str(trunk.max_channels), str(client.max_channels),
                                   main.e164 if usable_main else "", str(main.carrier_id) if usable_main else "",
                                   "-".join((client.blocked_service_codes or "").split())])


def auth_match_header(username: str) -> str:
    """The identify match_header of a registering trunk: its digest username in the Authorization header.

    Asterisk prints the parsed header as `Digest username="acme_branch", realm="asterisk", ...` and matches
    the value with a POSIX extended regex (res_pjsip_endpoint_identifier_ip); usernames are letters, digits
    and `_` only (services.trunks), so nothing in them needs escaping.
    """
    return f'Authorization: /[ ,]username="{username}"/'


def trunk_endpoint_rows(trunk: Trunk, rows: Rows) -> None:
    """Endpoint, AOR, auth and identify rows of a trunk of an active client."""
    ep = trunk.endpoint_id
    endpoint = {"id": ep, "aors": ep, "context": CTX_FROM_TRUNK, "allow": trunk.codecs, **_MEDIA,
                "accountcode": trunk.client.account_code, "set_var": trunk_vars(trunk),
                # trust_id_inbound: the caller's identity is P-Asserted-Identity when the PBX sends one, else
                # From (Asterisk reads PAI, then Remote-Party-ID, then From; a Privacy header other than "none"
                # with PAI restricts the presentation). The dialplan then checks the number is the client's own.
                # trust_connected_line no: the identity is checked once, on the INVITE; a PAI in a later
                # re-INVITE/UPDATE from the PBX must not reach the carrier as an unchecked connected line.
                "trust_id_inbound": "yes", "trust_connected_line": "no", "trust_id_outbound": "no", "send_pai": "no",
                "device_state_busy_at": trunk.max_channels or None}
    aor = {"id": ep, "qualify_frequency": 60}
    if trunk.auth_mode == "credentials":
        auth_id = f"{ep}-auth"
        # A registering PBX is identified by the username of its digest Authorization header, never by
        # From (which carries its DID or the caller's number, whatever the PBX likes). Asterisk's own
        # auth_username identifier looks up an endpoint *named* like that username, so the endpoint keeps its
        # name and an identify row matches the Authorization header instead: an INVITE or REGISTER without
        # one is challenged (401, Asterisk's artificial endpoint), the answer is identified by its username
        # and its digest checked against this auth. The AOR is named after the username: Asterisk 22's
        # registrar looks the AOR up by the Authorization username only when identify_by lists auth_username
        # (by the To user only with "username", which would also let From name an endpoint), hence
        # "header,auth_username"; no endpoint is named like a username, so auth_username itself never
        # matches. Usernames never contain '-', so they never collide with other ids.
        aor["id"] = trunk.username
        endpoint.update(aors=trunk.username, auth=auth_id, identify_by="header,auth_username", rewrite_contact="yes")
        aor.update(max_contacts=1, remove_existing="yes", default_expiration=300, minimum_expiration=60)
        _add(rows, "ps_auths", auth_id, {"id": auth_id, "auth_type": "userpass", "username": trunk.username,
                                         "password": trunk.password})
        rid = f"{ep}-user"
        _add(rows, "ps_endpoint_id_ips", rid, {"id": rid, "endpoint": ep, "match_header": auth_match_header(trunk.username)})
    else:
        endpoint["identify_by"] = "ip"
        host = _first_host(trunk.address_list)
        aor.update(contact=_sip_uri(host, trunk.pbx_port) if host else None, max_contacts=0)
        _identify(rows, ep, trunk.address_list)
    _add(rows, "ps_endpoints", ep, endpoint)
    _add(rows, "ps_aors", aor["id"], aor)


def endpoint_owner(session: Session, endpoint_id: str):
    """The domain object an endpoint id is projected from, or None when nothing owns it now."""
    kind, _, rest = endpoint_id.partition("-")
    if kind == "carrier":
        return session.scalar(select(Carrier).where(Carrier.name == rest, Carrier.enabled.is_(True)))
    if kind == "node":
        return session.scalar(select(Node).where(Node.name == rest, Node.state.in_(LIVE_NODE_STATES)))
    if kind == "trunk":
        account, _, name = rest.partition("-")
        return session.scalar(select(Trunk).join(Client).where(
            Client.account_code == account, Trunk.name == name, Client.status == "active"))
    return None


def endpoint_rows(session: Session, endpoint_ids: Iterable[str]) -> Rows:
    """Desired ps_* rows for the given endpoint ids (absent owners give no rows)."""
    rows: Rows = {}
    for endpoint_id in endpoint_ids:
        owner = endpoint_owner(session, endpoint_id)
        if isinstance(owner, Carrier):
            carrier_endpoint_rows(owner, rows)
        elif isinstance(owner, Node):
            node_endpoint_rows(owner, rows)
        elif isinstance(owner, Trunk):
            trunk_endpoint_rows(owner, rows)
    return rows


def all_endpoint_ids(session: Session) -> set[str]:
    """Every endpoint id the current domain projects."""
    ids = {c.endpoint_id for c in session.scalars(select(Carrier).where(Carrier.enabled.is_(True)))}
    ids |= {n.endpoint_id for n in session.scalars(select(Node).where(Node.state.in_(LIVE_NODE_STATES)))}
    ids |= {f"trunk-{acct}-{name}" for acct, name in session.execute(
        select(Client.account_code, Trunk.name).join(Trunk.client).where(Client.status == "active"))}
    return ids


def number_row(e164: str, carrier_id: int, port_status: str, account: str | None, client_status: str | None,
               node_name: str | None, node_state: str | None, trunk_name: str | None, did_format: str | None):
    """The tl-num row (key, row) of one number, or None when the number is not routable.

    A number routes when it belongs to an active client and is not ported out; the value tells the
    dialplan its holder carrier, account, the client's live node and the trunk with its DID format.
    """
    if account is None or client_status != "active" or port_status == "ported_out":
        return None
    node = f"node-{node_name}" if node_name and node_state in LIVE_NODE_STATES else ""
    value = SEP.join([str(carrier_id), account, node, f"trunk-{account}-{trunk_name}" if trunk_name else "",
                      format_number(e164, did_format) if trunk_name else ""])
    return ext_row(RT_NUMBER, e164, value)


def number_rows(session: Session, e164s: Iterable[str] | None) -> Rows:
    """tl-num rows for the given numbers (None: all numbers), one per routable number."""
    node, trunk = aliased(Node), aliased(Trunk)
    query = (
        select(PhoneNumber.e164, PhoneNumber.carrier_id, PhoneNumber.port_status, Client.account_code, Client.status,
               node.name, node.state, trunk.name, trunk.did_format)
        .join(Client, PhoneNumber.client_id == Client.id)
        .outerjoin(node, Client.node_id == node.id)
        .outerjoin(trunk, PhoneNumber.trunk_id == trunk.id)
        # number_row() decides; this only spares reading numbers it would skip anyway.
        .where(Client.status == "active", PhoneNumber.port_status != "ported_out")
    )
    rows: Rows = {"extensions": {}}
    wanted = None if e164s is None else set(e164s)
    # Past a few thousand numbers one scan beats many IN (...) look-ups (the optimiser walks the
    # client's numbers for each chunk); a bulk change of a big client is exactly that case.
    if wanted is None or len(wanted) > 5000:
        queries = [query]
    else:
        ordered = sorted(wanted)
        queries = [query.where(PhoneNumber.e164.in_(ordered[i:i + 1000])) for i in range(0, len(ordered), 1000)]
    for q in queries:
        for fields in session.execute(q):
            if wanted is not None and fields[0] not in wanted:
                continue
            projected = number_row(*fields)
            if projected is not None:
                rows["extensions"][projected[0]] = projected[1]
    return rows


def route_item(carrier: Carrier) -> str:
    """One carrier as the dialplan tries it: endpoint/caller-ID format/dial format/service-code dial form/
    accepted service codes joined by '-' (e.g. carrier-telus/10/11/3/211-311-988)."""
    return "/".join([carrier.endpoint_id, FORMAT_CODES[carrier.callerid_format], FORMAT_CODES[carrier.dial_format],
                     DIAL_FORM_CODES[carrier.service_code_format], "-".join((carrier.service_codes or "").split())])


def route_rows(session: Session) -> Rows:
    """tl-route rows: one row per carrier, so that any number of carriers fits Asterisk's 256-character appdata.

    `<carrier id>` -> that enabled carrier's item (tried first for the numbers it holds); `p<N>` -> the
    N-th enabled carrier by priority then name (N from 1, tried next, the holder skipped); `nodes` -> the
    active carrier nodes. The dialplan reads the holder's row and then `p1`, `p2`... only as far as it
    has to go: the first carrier that takes the call costs one look-up.
    """
    enabled = list(session.scalars(select(Carrier).where(Carrier.enabled.is_(True))
                                   .order_by(Carrier.priority, Carrier.name)))
    rows: Rows = {"extensions": {}}
    for position, carrier in enumerate(enabled, start=1):
        item = route_item(carrier)
        for exten in (str(carrier.id), f"p{position}"):
            key, row = ext_row(RT_ROUTE, exten, item)
            rows["extensions"][key] = row
    nodes = session.scalars(select(Node).where(Node.role == "carrier", Node.state == "active").order_by(Node.name))
    node_list = LIST_SEP.join(n.endpoint_id for n in nodes)
    if len(node_list) > 256:
        raise ValueError("too many active carrier nodes for one tl-route/nodes row (256 characters)")
    key, row = ext_row(RT_ROUTE, "nodes", node_list)
    rows["extensions"][key] = row
    return rows


def _e911_value(level: str, number: str, carrier: Carrier | None, sent: str) -> str:
    fmt = FORMAT_CODES[carrier.e911_callerid_format] if carrier else ""
    return SEP.join([level, number, carrier.endpoint_id if carrier else "", sent, fmt])


def e911_rows(session: Session, trunk_ids: Iterable[int] | None) -> Rows:
    """tl-e911 rows of the given trunks (None: all), each computed by the one cascade resolver."""
    query = select(Trunk).join(Trunk.client).where(Client.status == "active")
    if trunk_ids is not None:
        ids = list(trunk_ids)
        if not ids:
            return {"extensions": {}}
        query = query.where(Trunk.id.in_(ids))
    rows: Rows = {"extensions": {}}
    fallback = session.scalar(select(Carrier).where(Carrier.enabled.is_(True), Carrier.provides_911.is_(True))
                              .order_by(Carrier.priority, Carrier.name).limit(1))
    trunk_list = list(session.scalars(query.options(selectinload(Trunk.client).selectinload(Client.e911_number),
                                                    selectinload(Trunk.e911_number))))
    # A client's trunks share its registered numbers: one query for all the clients involved.
    registered_by_client: dict[int, list[PhoneNumber]] = {t.client_id: [] for t in trunk_list}
    client_ids = sorted(registered_by_client)
    for i in range(0, len(client_ids), 1000):
        for number in session.scalars(select(PhoneNumber).where(
                PhoneNumber.client_id.in_(client_ids[i:i + 1000]), PhoneNumber.e911_registered.is_(True),
                PhoneNumber.port_status != "ported_out").order_by(PhoneNumber.id)):
            registered_by_client[number.client_id].append(number)
    for trunk in trunk_list:
        for number in registered_by_client[trunk.client_id]:
            try:
                route = resolve_e911(session, trunk, number.e164, own=number)
            except E911Unresolved:
                continue  # the default row below carries the unresolved marker
            if route.level == "number":
                key, row = ext_row(RT_E911, f"{trunk.id}*{number.e164}",
                                   _e911_value("number", route.number, route.carrier, route.sent))
                rows["extensions"][key] = row
        try:
            route = resolve_e911(session, trunk, None)
            value = _e911_value(route.level, route.number, route.carrier, route.sent)
        except E911Unresolved:
            # Reported by verify/coverage; the node logs an ERROR and still tries a 911 carrier.
            value = _e911_value("unresolved", "", fallback, "")
        key, row = ext_row(RT_E911, f"{trunk.id}*default", value)
        rows["extensions"][key] = row
    return rows


def trunks_of_clients(session: Session, client_ids: Iterable[int]) -> set[int]:
    """Trunk ids of the given clients."""
    ids = [i for i in client_ids if i is not None]
    if not ids:
        return set()
    return set(session.scalars(select(Trunk.id).where(Trunk.client_id.in_(ids))))


def numbers_of(session: Session, *, client_ids=(), trunk_ids=(), carrier_ids=()) -> set[str]:
    """E.164 numbers of the given clients, trunks or carriers."""
    conds = []
    if client_ids:
        conds.append(PhoneNumber.client_id.in_(list(client_ids)))
    if trunk_ids:
        conds.append(PhoneNumber.trunk_id.in_(list(trunk_ids)))
    if carrier_ids:
        conds.append(PhoneNumber.carrier_id.in_(list(carrier_ids)))
    if not conds:
        return set()
    return set(session.scalars(select(PhoneNumber.e164).where(or_(*conds))))
