"""Domain and realtime tables; importing this package registers every table on Base.metadata."""

from app.models.alerts import AlertDelivery, E911Call
from app.models.audit import AuditEntry
from app.models.calls import CallRollup, CallRollupState
from app.models.carrier import Carrier
from app.models.client import Client
from app.models.dbserver import DbServer, NodeLocalCopy
from app.models.node import Node
from app.models.node_account import NodeAccount
from app.models.node_push import NodePushPending
from app.models.node_seen import NodeLastSeen
from app.models.number import PhoneNumber
from app.models.porting import PortOrder, PortOrderNumber
from app.models.realtime import REALTIME_TABLES
from app.models.trunk import Trunk, TrunkAddress
from app.models.user import SignInAttempt, User

__all__ = ["AlertDelivery", "AuditEntry", "CallRollup", "CallRollupState", "Carrier", "Client", "DbServer", "E911Call", "Node",
           "NodeAccount", "NodeLastSeen", "NodeLocalCopy", "NodePushPending", "PhoneNumber", "PortOrder", "PortOrderNumber", "REALTIME_TABLES",
           "SignInAttempt", "Trunk",
           "TrunkAddress", "User"]
