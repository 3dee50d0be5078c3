"""Client: a customer account with its own client-facing node."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.service_codes import blocked_codes_check_sql


class Client(Base):
    """A customer account; its node serves it alone."""

    __tablename__ = "clients"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'closed')", name="status"),
        CheckConstraint("max_channels >= 0", name="max_channels"),
        CheckConstraint(blocked_codes_check_sql("blocked_service_codes"), name="blocked_service_codes"),
        # An active client's trunks and numbers carry calls through its node: no node, no calls.
        CheckConstraint("status <> 'active' OR node_id IS NOT NULL", name="active_needs_node"),
        # The default E911 number and the main number must be numbers of this client.
        ForeignKeyConstraint(
            ["e911_number_id", "id"], ["phone_numbers.id", "phone_numbers.client_id"],
            name="fk_clients_e911_number_own", use_alter=True,
        ),
        ForeignKeyConstraint(
            ["main_number_id", "id"], ["phone_numbers.id", "phone_numbers.client_id"],
            name="fk_clients_main_number_own", use_alter=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    account_code: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="active")
    max_channels: Mapped[int] = mapped_column(Integer, default=10)
    # unique: one client per node, so an attack on one client's address hits only that client.
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"), unique=True)
    e911_number_id: Mapped[int | None] = mapped_column(Integer)
    main_number_id: Mapped[int | None] = mapped_column(Integer)
    # Service codes (app.service_codes) its trunks may not dial; never 711 or 988 (constraint above).
    blocked_service_codes: Mapped[str] = mapped_column(String(40), default="")
    # Who is told of every 911 call from this client (app/alerts): email addresses (space-separated), a webhook URL.
    alert_emails: Mapped[str] = mapped_column(Text, default="")
    alert_webhook: Mapped[str] = mapped_column(String(500), default="")

    node = relationship("Node", back_populates="client")
    trunks = relationship("Trunk", back_populates="client", order_by="Trunk.name")
    e911_number = relationship("PhoneNumber", foreign_keys=[e911_number_id], primaryjoin="Client.e911_number_id == PhoneNumber.id", viewonly=True)
    main_number = relationship("PhoneNumber", foreign_keys=[main_number_id], primaryjoin="Client.main_number_id == PhoneNumber.id", viewonly=True)

    def __str__(self) -> str:
        return f"{self.account_code} ({self.name})"
