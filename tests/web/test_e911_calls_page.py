"""The 911 calls page and the dashboard's list: a call found afterwards in the call records worded as the alerts word it
(never "no registered address" when the caller ID on the record is registered), choice filters in words, trunks as ACME/main
(linked; search and filter by ACME/main), the client's name, and a CSV export whose columns only grow."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import insert, select

from app.alerts import reconcile_from_cdr, record_call
from app.models import Client, Trunk
from app.models.realtime import REALTIME_TABLES
from app.services import clients
from app.services.audit import SYSTEM
from tests.db.test_alerts import _911_rows

NODE_CALL = {"CallId": "cl-ovh-bhs7-1796055432.9", "Trunk": "trunk-ACME-main", "Account": "ACME",
             "Presented": "2045551202", "Level": "number", "Number": "+12045551202", "Carrier": "carrier-telus",
             "Sent": "2045551202", "Node": "cl-ovh-bhs7"}
BRANCH_CALL = {**NODE_CALL, "CallId": "cl-ovh-bhs7-1796055499.3", "Trunk": "trunk-ACME-branch", "Presented": "2045551204",
               "Level": "trunk", "Number": "+12045551203", "Carrier": "carrier-bell", "Sent": "12045551203"}


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.text)


@pytest.fixture
def calls(web):
    """Three 911 calls: two the node announced (main: own number; branch: the trunk's number) and one found afterwards
    in the call records (main, presenting 2045551202, no carrier's record: the number sent is not known)."""
    clients.save(web, {"alert_emails": "noc@acme.example"}, SYSTEM, clients.get(web, "ACME"))
    record_call(web, NODE_CALL)
    record_call(web, BRANCH_CALL)
    web.execute(insert(REALTIME_TABLES["cdr"]), _911_rows("2045559876", None, carrier="telus"))
    (found,) = reconcile_from_cdr(web)
    web.commit()
    return found


def test_a_call_from_the_records_is_worded_alike_on_the_dashboard_and_the_page(as_role, web):
    clients.save(web, {"alert_emails": "noc@acme.example"}, SYSTEM, clients.get(web, "ACME"))
    web.execute(insert(REALTIME_TABLES["cdr"]), _911_rows("2045551202", None, carrier="telus"))
    (call,) = reconcile_from_cdr(web)
    web.commit()
    b = as_role("viewer")
    panel = _text(b.get("/admin/")).split('id="tl-e911-calls"')[1].split("</div>")[0]
    said = ("not known for this call (found afterwards in the call records); the caller ID on the client node&#39;s record, +12045551202, is"
            " registered at 100 Main St, Suite 200, Winnipeg MB R3C 1A1")
    assert f"2045551202 ({said})" in panel and "no registered address" not in panel
    page = _text(b.get(f"/admin/e911_call/details/?id={call.id}"))
    assert said in page and "NONE" not in page and "none registered" not in page
    assert "cl-ovh-bhs7" in page and "the call records, afterwards" in page
    assert ("not known (found afterwards in the call records); the caller ID on the client node&#39;s record, +12045551202, is registered"
            " at 100 Main St, Suite 200, Winnipeg MB R3C 1A1; for this trunk and that caller ID the cascade today gives the"
            " caller&#39;s own registered number") in page


def test_a_call_from_the_records_with_the_carriers_record_shows_the_number_and_address(as_role, web):
    clients.save(web, {"alert_emails": "noc@acme.example"}, SYSTEM, clients.get(web, "ACME"))
    web.execute(insert(REALTIME_TABLES["cdr"]), _911_rows("2045551202", "2045551202", carrier="telus"))
    reconcile_from_cdr(web)
    web.commit()
    b = as_role("viewer")
    panel = _text(b.get("/admin/")).split('id="tl-e911-calls"')[1].split("</div>")[0]
    assert "+12045551202 (100 Main St, Suite 200, Winnipeg MB R3C 1A1)" in panel
    listing = _text(b.get("/admin/e911_call/"))
    assert "100 Main St, Suite 200" in listing and "none registered" not in listing.lower()


def test_chosen_from_and_recorded_from_are_choices_in_words(as_role, calls):
    b = as_role("viewer")
    listing = _text(b.get("/admin/e911_call/"))
    for words in ("the caller&#39;s own registered number", "the trunk&#39;s E911 number",
                  "the node, as the call started", "the call records, afterwards"):
        assert words in listing
    own = _text(b.get("/admin/e911_call/?flt0_chosen_from_equals=number"))
    assert "2045551202" in own and "2045551204" not in own and "2045559876" not in own
    trunk_level = _text(b.get("/admin/e911_call/?flt0_chosen_from_equals=trunk"))
    assert "2045551204" in trunk_level and "2045551202" not in trunk_level
    unknown = _text(b.get("/admin/e911_call/?flt0_chosen_from_equals=-"))
    assert "2045559876" in unknown and "2045551202" not in unknown
    records = _text(b.get("/admin/e911_call/?flt0_recorded_from_equals=cdr"))
    assert "2045559876" in records and "2045551204" not in records
    node = _text(b.get("/admin/e911_call/?flt0_recorded_from_equals=node"))
    assert "2045551204" in node and "2045559876" not in node


def test_trunks_show_as_client_slash_name_linked_and_found_so(as_role, web, calls):
    main = web.scalar(select(Trunk).join(Client).where(Client.account_code == "ACME", Trunk.name == "main"))
    b = as_role("viewer")
    listing = _text(b.get("/admin/e911_call/"))
    assert f'<a href="/admin/trunk/details/?id={main.id}">ACME/main</a>' in listing
    assert ">ACME/branch</a>" in listing and ">trunk-ACME-main<" not in listing
    for url in ("/admin/e911_call/?search=ACME/main", "/admin/e911_call/?flt0_trunk_contains=ACME/main",
                "/admin/e911_call/?flt0_trunk_equals=ACME/main",
                "/admin/e911_call/?flt0_trunk_equals=trunk-ACME-main"):
        found = _text(b.get(url))
        assert "2045551202" in found and "2045559876" in found and "2045551204" not in found, url
    branch = _text(b.get("/admin/e911_call/?search=ACME/branch"))
    assert "2045551204" in branch and "2045551202" not in branch


def test_the_client_column_names_the_client(as_role, web, calls):
    acme = web.scalar(select(Client).where(Client.account_code == "ACME"))
    b = as_role("viewer")
    listing = _text(b.get("/admin/e911_call/"))
    assert f'<a href="/admin/client/details/?id={acme.id}">ACME (Acme Dental Group)</a>' in listing
    assert "2045551202" in _text(b.get("/admin/e911_call/?search=Dental"))


def test_the_export_keeps_its_columns_and_codes_and_adds_new_ones_at_the_end(as_role, calls):
    b = as_role("viewer")
    rows = list(csv.reader(io.StringIO(b.get("/admin/e911_call/export/csv/").data.decode("utf-8-sig"))))
    assert rows[0] == ["Started (UTC)", "Client", "Trunk", "Caller ID presented", "Number sent to 911", "Digits sent",
                       "Registered address", "Carrier", "Chosen from", "Node", "Recorded from", "Call id",
                       "Client name", "Trunk (client/name)", "Chosen from (words)", "Number sent to 911 (words)",
                       "Registered address (words)"]
    by_presented = {row[3]: row for row in rows[1:]}
    assert by_presented["2045551202"][1:12] == ["ACME", "trunk-ACME-main", "2045551202", "+12045551202", "2045551202",
                                                "100 Main St, Suite 200, Winnipeg MB R3C 1A1", "telus", "number",
                                                "cl-ovh-bhs7", "node", "cl-ovh-bhs7-1796055432.9"]
    assert by_presented["2045551202"][12:14] == ["Acme Dental Group", "ACME/main"]
    found = by_presented["2045559876"]
    assert (found[8], found[10], found[6]) == ("", "cdr", "")  # codes as before: no level, no address known
    assert found[14].startswith("not known (found afterwards in the call records)")
