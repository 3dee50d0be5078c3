"""Every admin view, in menu order."""

from __future__ import annotations

from flask_admin import Admin

from app.models import AuditEntry, Carrier, Client, DbServer, E911Call, Node, PhoneNumber, PortOrder, Trunk, User


def register_views(admin: Admin) -> None:
    from app.web.views.admin_views import AuditView, ShownOnceView, UserView
    from app.web.views.csv_page import ImportExportView
    from app.web.views.databases import DbServerView
    from app.web.views.e911_calls import E911CallView
    from app.web.views.porting import PortOrderView
    from app.web.views.telecom import CarrierView, ClientView, NodeView, NumberView, TrunkView
    from app.web.views.usage import UsageView

    admin.add_view(ClientView(Client, name="Clients", endpoint="client"))
    admin.add_view(TrunkView(Trunk, name="Trunks", endpoint="trunk"))
    admin.add_view(NumberView(PhoneNumber, name="Numbers", endpoint="number"))
    admin.add_view(CarrierView(Carrier, name="Carriers", endpoint="carrier"))
    admin.add_view(NodeView(Node, name="Nodes", endpoint="node"))
    admin.add_view(DbServerView(DbServer, name="Database servers", endpoint="db_server"))
    admin.add_view(PortOrderView(PortOrder, name="Port orders", endpoint="port_order"))
    admin.add_view(ImportExportView(name="Import / export", endpoint="csv", url="/admin/csv"))
    admin.add_view(UsageView(name="Usage", endpoint="usage", url="/admin/usage"))
    admin.add_view(E911CallView(E911Call, name="911 calls", endpoint="e911_call"))
    admin.add_view(AuditView(AuditEntry, name="Audit log", endpoint="audit"))
    admin.add_view(UserView(User, name="Users", endpoint="user"))
    admin.add_view(ShownOnceView(name="Password", endpoint="shown_once", url="/admin/shown-once"))
