"""PhoneNumber: a DID, stored once as E.164."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, ForeignKeyConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base

# The stored E.164 form, in ASCII digits only (schema/versions/0003c_*.py creates these constraints).
# GLOB and MariaDB's REGEXP compare code points, so full-width or Arabic-Indic digits never match [0-9].
E164_ASCII_SQLITE = "e164 GLOB '+1[2-9][0-9][0-9][2-9][0-9][0-9][0-9][0-9][0-9][0-9]'"
E164_ASCII_MARIADB = "e164 REGEXP '^[+]1[2-9][0-9]{2}[2-9][0-9]{6}$'"


class PhoneNumber(Base):
    """A DID: who holds it upstream, which client and trunk it rings, its E911 and port state."""

    __tablename__ = "phone_numbers"
    __table_args__ = (
        UniqueConstraint("id", "client_id"),  # target of the E911/main number ownership keys
        CheckConstraint("e164 LIKE '+1__________'", name="e164"),
        # ASCII digits only, NANP-shaped (NXX-NXX-XXXX): LIKE's '_' takes any character, even '２' or '٢'.
        CheckConstraint(E164_ASCII_SQLITE, name="e164_ascii").ddl_if(dialect="sqlite"),
        CheckConstraint(E164_ASCII_MARIADB, name="e164_ascii").ddl_if(dialect="mysql"),
        CheckConstraint("port_status IN ('active', 'port_in_pending', 'ported_out')", name="port_status"),
        CheckConstraint("trunk_id IS NULL OR client_id IS NOT NULL", name="trunk_needs_client"),
        CheckConstraint("e911_registered = 0 OR client_id IS NOT NULL", name="e911_needs_client"),
        # A number rings a trunk of its own client only.
        ForeignKeyConstraint(["trunk_id", "client_id"], ["trunks.id", "trunks.client_id"], name="fk_phone_numbers_trunk_own"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    e164: Mapped[str] = mapped_column(String(16), unique=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    trunk_id: Mapped[int | None] = mapped_column(Integer, index=True)
    e911_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    e911_address: Mapped[str | None] = mapped_column(Text)
    port_status: Mapped[str] = mapped_column(String(16), default="active")
    port_target_carrier_id: Mapped[int | None] = mapped_column(ForeignKey("carriers.id"))

    carrier = relationship("Carrier", back_populates="numbers", foreign_keys=[carrier_id])
    port_target_carrier = relationship("Carrier", foreign_keys=[port_target_carrier_id])
    client = relationship("Client", foreign_keys=[client_id])
    trunk = relationship("Trunk", back_populates="numbers", foreign_keys=[trunk_id], primaryjoin="PhoneNumber.trunk_id == Trunk.id")

    @property
    def in_service(self) -> bool:
        """A number routes calls unless it has been ported out."""
        return self.port_status != "ported_out"

    def __str__(self) -> str:
        return self.e164
