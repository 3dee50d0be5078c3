"""Issue 9 settings in the admin forms: service codes per carrier and client, caps' help, user@domain usernames."""

from __future__ import annotations

from app.services import carriers, clients
from tests.web.scenarios import CARRIER_FORM, CLIENT_FORM
from tests.web.test_pages import field_errors


def test_forms_show_the_new_fields_with_their_help(as_role, web):
    b = as_role("operator")
    carrier_page = b.get("/admin/carrier/new/").text
    assert "Service codes accepted" in field_errors(carrier_page, "service_codes")
    assert "'all' (the default when empty) or 'none'" in field_errors(carrier_page, "service_codes")
    dial_form = field_errors(carrier_page, "service_code_format")
    assert "1 + the 3 digits (1311)" in dial_form and "How the carrier wants a service code" in dial_form
    assert "911 and 988 are never refused or counted" in field_errors(carrier_page, "max_channels")
    client_page = b.get("/admin/client/new/").text
    blocked = field_errors(client_page, "blocked_service_codes")
    assert "988 (suicide crisis line) and 711 (relay service) can never be blocked" in blocked
    assert "over it: 503 to its PBX, 486 to the carrier" in field_errors(client_page, "max_channels")


def test_client_form_refuses_blocking_988_with_the_reason_and_saves_other_codes(as_role, web):
    b = as_role("operator")
    page = b.refused("/admin/client/new/", {**CLIENT_FORM, "blocked_service_codes": "411 988"})
    assert page.status_code == 200
    assert "988 can never be blocked: 988 is the suicide crisis line" in field_errors(page.text, "blocked_service_codes")
    assert "Nothing was saved" in page.text
    page = b.post("/admin/client/new/", {**CLIENT_FORM, "blocked_service_codes": "411, 211"})
    assert page.status_code == 302, page.text
    web.expire_all()
    client = clients.get(web, "UMBRELLA")
    assert client.blocked_service_codes == "211 411"
    edit = b.get(f"/admin/client/edit/?id={client.id}").text
    assert 'value="211 411"' in field_errors(edit, "blocked_service_codes")


def test_carrier_form_saves_service_codes_and_refuses_bad_ones_and_bad_usernames(as_role, web):
    b = as_role("operator")
    page = b.refused("/admin/carrier/new/", {**CARRIER_FORM, "service_codes": "311 912", "auth_mode": "register",
                                          "username": "1234 567@sip.example", "password": "Reg-Password-123456"})
    assert page.status_code == 200
    assert "912: not a service code" in field_errors(page.text, "service_codes")
    assert "a space cannot stand in the user part of a SIP URI" in field_errors(page.text, "username")
    page = b.post("/admin/carrier/new/", {**CARRIER_FORM, "service_codes": "988 711 311", "service_code_format": "+1code",
                                          "auth_mode": "register", "username": "1234567@sip.example",
                                          "password": "Reg-Password-123456"})
    assert page.status_code == 302, page.text
    web.expire_all()
    carrier = carriers.get(web, "newtel")
    assert (carrier.service_codes, carrier.service_code_format, carrier.username) == ("311 711 988", "+1code",
                                                                                      "1234567@sip.example")
    edit = b.get(f"/admin/carrier/edit/?id={carrier.id}").text
    assert 'value="311 711 988"' in field_errors(edit, "service_codes")
    page = b.post("/admin/carrier/new/", {**CARRIER_FORM, "name": "othertel", "signalling_addresses": "203.0.113.78"})
    assert page.status_code == 302, page.text
    web.expire_all()
    assert carriers.get(web, "othertel").service_codes == "211 311 411 511 611 711 811 988"  # default: all


def test_carrier_page_says_none_for_a_carrier_that_accepts_no_service_code(as_role, web):
    """Stored '' means no code (not the default 'all'): the page said 'all' for it (new-user trial)."""
    b = as_role("operator")
    page = b.post("/admin/carrier/new/", {**CARRIER_FORM, "service_codes": "none"})
    assert page.status_code == 302, page.text
    web.expire_all()
    carrier = carriers.get(web, "newtel")
    assert carrier.service_codes == ""
    row = b.get(f"/admin/carrier/details/?id={carrier.id}").text.split("Service codes (N11, 988)")[1].split("</tr>")[0]
    assert "none (refuses every service code)" in row and "all" not in row.split("(sent as")[0]
