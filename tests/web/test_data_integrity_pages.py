"""Forms, downloads and pages for data that cannot be corrupted: other digits in forms, credentials
an IP carrier would drop, a client without its node, BOMs for Excel, what cannot call shown in red."""

from __future__ import annotations

import csv
import html as html_module
import io
import re

import pytest
from sqlalchemy import select

from app.csvio.importer import import_csv, spec_of
from app.models import Client, Node
from app.services import carriers, clients, nodes
from app.services.audit import SYSTEM
from tests.web.scenarios import CARRIER_FORM, CLIENT_FORM, csv_upload
from tests.web.test_pages import field_errors

BOM = b"\xef\xbb\xbf"


def _text(page) -> str:
    return html_module.unescape(re.sub(r"\s+", " ", page.text))


def test_client_form_reads_full_width_digits_and_asks_for_a_node(as_role, web):
    b = as_role("operator")
    page = b.refused("/admin/client/new/", {**CLIENT_FORM, "status": "active", "max_channels": "３０"})
    assert page.status_code == 200
    assert "an active client needs its client-facing node" in field_errors(page.text, "node")
    node, _ = nodes.save(web, {"name": "cl-umbrella", "role": "client", "public_ip": "192.0.2.94", "hosting_provider": "Vultr"}, SYSTEM)
    web.commit()
    page = b.post("/admin/client/new/", {**CLIENT_FORM, "status": "active", "max_channels": "٣٠", "node": "cl-umbrella"})
    assert page.status_code == 302, _text(page)
    client = web.scalar(select(Client).where(Client.account_code == "UMBRELLA"))
    assert (client.max_channels, client.node_id, client.status) == (30, node.id, "active")


def test_node_form_reads_full_width_address_and_port(as_role, web):
    form = {"name": "cl-fw-1", "role": "client", "public_ip": "１９２.０.２.７８", "sip_port": "５０８０", "hosting_provider": "Hetzner",
            "region": "", "dns_name": "", "state": "active"}
    page = as_role("operator").post("/admin/node/new/", form)
    assert page.status_code == 302, _text(page)
    node = web.scalar(select(Node).where(Node.name == "cl-fw-1"))
    assert (node.public_ip, node.sip_port) == ("192.0.2.78", 5080)


def test_carrier_form_refuses_credentials_for_ip_and_networks_without_host(as_role, web):
    b = as_role("operator")
    page = b.refused("/admin/carrier/new/", {**CARRIER_FORM, "username": "acct-42", "password": "Typed-Password-123"})
    assert page.status_code == 200
    assert "is not used: this carrier is identified by its IP addresses (auth ip)" in field_errors(page.text, "username")
    page = b.refused("/admin/carrier/new/", {**CARRIER_FORM, "signalling_addresses": "203.0.113.5 203.0.113.999 10.1.1.1/8 ｘ"})
    addresses = field_errors(page.text, "signalling_addresses")
    assert ("'203.0.113.999' is not an IP address or CIDR network; '10.1.1.1/8' has host bits set: did you mean "
            "10.0.0.0/8?; 'x' is not an IP address or CIDR network") in addresses
    page = b.refused("/admin/carrier/new/", {**CARRIER_FORM, "signalling_addresses": "203.0.113.0/28"})
    assert "add the host that receives calls (for example 203.0.113.1)" in field_errors(page.text, "signalling_addresses")


def test_dashboard_and_client_page_show_what_cannot_call_in_red_with_links(as_role, web):
    viewer = as_role("viewer")
    assert 'id="tl-call-problems"' not in viewer.get("/admin/").text
    bell = carriers.get(web, "bell")
    carriers.save(web, {"enabled": False}, SYSTEM, bell)
    web.commit()
    dashboard = viewer.get("/admin/").text
    box = re.search(r'<div class="tl-bad-box[^"]*" id="tl-call-problems">.*?</div>', dashboard, re.S).group(0)
    assert f'<a class="tl-bad" href="/admin/carrier/details/?id={bell.id}">carrier bell</a>' in box
    assert "is disabled: the" in box and "cannot receive calls" in box
    acme = clients.get(web, "ACME")
    page = viewer.get(f"/admin/client/details/?id={acme.id}").text
    assert 'id="tl-call-problems"' in page
    assert f'href="/admin/carrier/details/?id={bell.id}">carrier bell</a>: is disabled: the 2 number(s)' in page
    initech = clients.get(web, "INITECH")
    assert 'id="tl-call-problems"' not in viewer.get(f"/admin/client/details/?id={initech.id}").text


def test_every_csv_download_starts_with_a_bom_for_excel(as_role, web):
    viewer = as_role("viewer")
    export = viewer.get("/admin/csv/export/?kind=numbers")
    assert export.data.startswith(BOM + b"number,carrier,")
    assert export.headers["Content-Type"] == "text/csv; charset=utf-8"  # once, not "; charset=utf-8; charset=utf-8"
    listing = viewer.get("/admin/number/export/csv/")
    assert listing.status_code == 200
    assert listing.data.startswith(BOM) and not listing.data.startswith(BOM + BOM)
    assert listing.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_an_excel_mangled_upload_is_refused_on_the_page_with_line_and_column(as_role, web):
    original = "number,carrier,client,trunk,e911_registered,e911_address\n2045551202,telus,ACME,main,yes,\"12 rue Émile, Montréal\"\n"
    mangled = BOM + original.encode().decode("cp1252").encode()
    page = _text(csv_upload(as_role("operator"), content=mangled))
    assert "12 rue Ã‰mile, MontrÃ©al" in page
    assert "it should probably read '12 rue Émile, Montréal'" in page
    assert "Import now" not in page


@pytest.mark.parametrize("view, kind, search, keys", [
    ("carrier", "carriers", "telus", ["telus"]),
    ("node", "nodes", "", None),
    ("client", "clients", "ACME", ["ACME"]),
    ("trunk", "trunks", "", None),
])
def test_list_exports_are_import_files_that_import_as_they_are(as_role, web, view, kind, search, keys):
    """The Export button of the carriers, nodes, clients and trunks lists wrote the page's words ("By IP address",
    "True") under label headers, which the import refused (new-user trial): it now writes the import format of the
    rows the list shows (search honoured), and that file imports with nothing changed."""
    url = f"/admin/{view}/export/csv/" + (f"?search={search}" if search else "")
    listing = as_role("viewer").get(url)
    assert listing.status_code == 200 and listing.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert listing.data.startswith(BOM) and not listing.data.startswith(BOM + BOM)
    text = listing.data.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header == [c.name for c in spec_of(kind).export_columns(False)]
    if keys is not None:
        assert [r[header.index("account_code" if kind == "clients" else "name")] for r in rows] == keys
    else:
        assert len(rows) == len(list(spec_of(kind).export_rows(web))) > 0
    result = import_csv(web, kind, io.BytesIO(listing.data), SYSTEM, dry_run=True, filename=f"{kind}.csv")
    assert result.errors == [] and (result.created, result.updated, result.unchanged) == (0, 0, len(rows))
