"""Redirect after every POST, refused ones too (issue 10): a refused create/edit/replace form answers 303 to a GET of
the same form showing the typed values, the field errors and the flashed messages, once; passwords are never kept."""

from __future__ import annotations

import base64
import json
import re
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.models import User
from app.services import carriers, clients
from tests.web.scenarios import CARRIER_FORM, CLIENT_FORM, DB_SERVER_FORM, NODE_FORM, NUMBER_FORM, TRUNK_FORM
from tests.web.test_pages import field_errors

TYPED_PASSWORD = "Typed-Secret-Password-4711"

# url, form with one wrong field, the wrong field, a typed value to find again, words of its error
REFUSED_CREATES = {
    "carrier": ("/admin/carrier/new/", {**CARRIER_FORM, "name": "typedtel", "signalling_addresses": "203.0.113.7/24"},
                "signalling_addresses", "typedtel", "has host bits set"),
    "node": ("/admin/node/new/", {**NODE_FORM, "region": "Typed Region", "sip_port": "99999"},
             "sip_port", "Typed Region", "out of range"),
    "client": ("/admin/client/new/", {**CLIENT_FORM, "name": "Typed Client Inc", "max_channels": "lots"},
               "max_channels", "Typed Client Inc", "lots"),
    "trunk": ("/admin/trunk/new/", {**TRUNK_FORM, "name": "typedtrunk", "codecs": "ulaw", "pbx_port": "0"},
              "pbx_port", "typedtrunk", "out of range"),
    "number": ("/admin/number/new/", {**NUMBER_FORM, "number": "204-411-1234", "e911_address": "Typed Street 1"},
               "number", "Typed Street 1", "N11"),
    "user": ("/admin/user/new/", {"email": "typed-not-an-address", "role": "viewer", "active": "y", "password": ""},
             "email", "typed-not-an-address", "e-mail"),
    "port_order": ("/admin/port_order/new/", {"from_carrier": "telus", "to_carrier": "bell", "due_date": "2026-12-01",
                                              "numbers": "416 555 2301", "note": "Typed note"},
                   "numbers", "Typed note", "held by carrier bell"),
    "db_server": ("/admin/db_server/new/", {**DB_SERVER_FORM, "name": "db-typed", "port": "99999"},
                  "port", "db-typed", "out of range"),
}


def _session_cookie(b) -> dict:
    """The signed session cookie's contents (Flask: base64 JSON, zlib-compressed when it starts with '.')."""
    cookie = b.client.get_cookie("trunkline_session")
    assert cookie is not None
    value = cookie.value
    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return json.loads(zlib.decompress(raw) if compressed else raw)


@pytest.mark.parametrize("kind", REFUSED_CREATES)
def test_a_refused_create_redirects_to_the_form_with_the_typed_values_and_errors_once(as_role, web, kind):
    url, form, field, typed, words = REFUSED_CREATES[kind]
    b = as_role("admin")
    posted = b.post(url, form)
    assert posted.status_code == 303, posted.text[:300]  # not the form again: a refresh would post it again
    location = posted.headers["Location"]
    assert urlsplit(location).path == url and "tl_form" in parse_qs(urlsplit(location).query)
    page = b.get(location)
    assert page.status_code == 200
    assert f'value="{typed}"' in page.text or re.search(rf">\s*{typed}</textarea>", page.text)
    assert words in field_errors(page.text, field)
    # A refresh (the same GET again) shows a fresh form: the values and errors were for one showing only.
    again = b.get(location)
    assert again.status_code == 200 and typed not in again.text and '<div class="invalid-feedback">' not in again.text


def test_a_refused_edit_shows_what_was_typed_then_the_saved_record(as_role, web):
    bell = carriers.get(web, "bell")
    b = as_role("operator")
    url = f"/admin/carrier/edit/?id={bell.id}&url=%2Fadmin%2Fcarrier%2F"
    form = {**CARRIER_FORM, "name": "bell", "signalling_addresses": "198.51.100.20", "priority": "77", "port": "70000"}
    posted = b.post(url, form)
    assert posted.status_code == 303
    location = posted.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["id"] == [str(bell.id)] and query["url"] == ["/admin/carrier/"]  # the same record, the same way back
    page = b.get(location)
    assert "70000 is out of range (1 to 65535)" in field_errors(page.text, "port")
    assert 'value="77"' in field_errors(page.text, "priority")
    assert "Nothing was saved: correct the fields marked in red." in page.text  # the flash survived the redirect
    again = b.get(location)
    assert 'value="70000"' not in again.text and f'value="{bell.priority}"' in field_errors(again.text, "priority")
    assert "Nothing was saved" not in again.text
    assert carriers.get(web, "bell").priority == bell.priority


def test_passwords_are_never_kept_and_the_user_is_told_to_type_it_again(app, as_role, web):
    b = as_role("operator")
    form = {**CARRIER_FORM, "name": "regtel", "auth_mode": "register", "username": "1234567@sip.example",
            "password": TYPED_PASSWORD, "port": "99999"}
    posted = b.post("/admin/carrier/new/", form)
    assert posted.status_code == 303
    assert TYPED_PASSWORD not in json.dumps(_session_cookie(b))
    kept = [p.read_text() for p in Path(app.config["ONCE_DIR"]).glob("*.json")]
    assert kept and all(TYPED_PASSWORD not in text for text in kept)  # nor in the server-side stash
    page = b.get(posted.headers["Location"])
    assert TYPED_PASSWORD not in page.text
    assert "Passwords are not kept after a refused save: type the password again." in page.text
    assert 'value="1234567@sip.example"' in page.text
    assert TYPED_PASSWORD not in json.dumps(_session_cookie(b))
    # The user's password change on a refused edit: the same.
    b = as_role("admin")
    viewer = web.scalar(select(User).where(User.email == "viewer@example.test"))
    posted = b.post(f"/admin/user/edit/?id={viewer.id}", {"email": "renamed@example.test", "role": "viewer", "active": "y",
                                                           "password": TYPED_PASSWORD})
    assert posted.status_code == 303 and TYPED_PASSWORD not in json.dumps(_session_cookie(b))
    page = b.get(posted.headers["Location"])
    assert "cannot be changed" in field_errors(page.text, "email") and TYPED_PASSWORD not in page.text
    assert "type the password again" in page.text


def test_the_kept_form_fills_only_its_own_form_and_only_for_its_user(app, as_role, web):
    b = as_role("operator")
    posted = b.post("/admin/carrier/new/", {**CARRIER_FORM, "name": "leaktel", "port": "99999"})
    location = posted.headers["Location"]
    nonce = parse_qs(urlsplit(location).query)["tl_form"][0]
    # Another form with the same mark: not filled, and the stash is gone (it was for the carrier form).
    other = b.get(f"/admin/node/new/?tl_form={nonce}")
    assert other.status_code == 200 and "leaktel" not in other.text
    assert "leaktel" not in b.get(location).text
    # Another user with the same address finds nothing; the owner still finds it once.
    posted = b.post("/admin/carrier/new/", {**CARRIER_FORM, "name": "leaktel", "port": "99999"})
    location = posted.headers["Location"]
    assert "leaktel" not in as_role("admin").get(location).text
    assert "leaktel" in b.get(location).text
    # The same view at another address (another record's edit page) is not filled either.
    bell, telus = carriers.get(web, "bell"), carriers.get(web, "telus")
    posted = b.post(f"/admin/carrier/edit/?id={bell.id}", {**CARRIER_FORM, "name": "bell", "priority": "66", "port": "99999"})
    nonce = parse_qs(urlsplit(posted.headers["Location"]).query)["tl_form"][0]
    assert 'value="66"' not in b.get(f"/admin/carrier/edit/?id={telus.id}&tl_form={nonce}").text


def test_a_refused_node_replacement_redirects_and_keeps_the_typed_values_once(as_role, web):
    client = clients.get(web, "ACME")
    b = as_role("operator")
    url = f"/admin/client/replace-node/?id={client.id}"
    posted = b.post(url, {"name": "cl-typed-9", "public_ip": "192.0.2.21", "hosting_provider": "Typed Host"})
    assert posted.status_code == 303
    location = posted.headers["Location"]
    assert urlsplit(location).path == "/admin/client/replace-node/"
    page = b.get(location)
    assert "is the address of the node being replaced (192.0.2.21)" in field_errors(page.text, "public_ip")
    assert 'value="cl-typed-9"' in page.text and 'value="Typed Host"' in page.text
    again = b.get(location)
    assert "cl-typed-9" not in again.text and re.search(r'name="hosting_provider"[^>]*value="OVHcloud"', again.text)
    assert clients.get(web, "ACME").node.name == "cl-ovh-bhs7"
