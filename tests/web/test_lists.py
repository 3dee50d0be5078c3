"""Every list: search, each filter, each sortable column and the CSV export answer, and find what they should."""

from __future__ import annotations

import csv
import io

import pytest

LISTS = {
    # view: (search term, a row it finds, a row it does not find)
    "carrier": ("thinq", "203.0.113.50", "198.51.100.10"),
    "node": ("Vultr", "cl-vultr-tor3", "cl-ovh-bhs7"),
    "client": ("GLOBEX", "Globex Logistics", "Acme Dental Group"),
    "trunk": ("INITECH", "198.18.30.7", "198.18.10.5"),
    "number": ("604555", "(604) 555-3401", "(204) 555-1201"),
    "port_order": ("", "", ""),
    "audit": ("GLOBEX", "GLOBEX", "cl-ovh-bhs9"),
}


@pytest.mark.parametrize("view", sorted(LISTS))
def test_list_search_filters_sorting_and_export(as_role, web, app, view):
    b = as_role("viewer")
    term, found, not_found = LISTS[view]
    assert b.get(f"/admin/{view}/").status_code == 200
    if term:
        page = b.get(f"/admin/{view}/?search={term}").text
        assert found in page and not_found not in page
    admin_view = next(v for v in app.extensions["trunkline_admin"]._views if getattr(v, "endpoint", None) == view)
    for index, _flt in enumerate(admin_view._filters or []):
        assert b.get(f"/admin/{view}/?flt0_{index}=1").status_code == 200, (view, index)
    for index in range(len(admin_view.get_sortable_columns())):
        for desc in (0, 1):
            assert b.get(f"/admin/{view}/?sort={index}&desc={desc}").status_code == 200, (view, index)
    export = b.get(f"/admin/{view}/export/csv/")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows and rows[0], "the export has a header row"
    assert not any("password" in h.lower() for h in rows[0])
