"""Carrier: an upstream (tier 1 or 2) SIP provider."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.numbering import NumberFormat
from app.service_codes import ALL as ALL_SERVICE_CODES
from app.service_codes import DIAL_FORMS, service_codes_check_sql

_DIAL_FORMS = ",".join(f"'{f}'" for f in DIAL_FORMS)
_FORMATS = ",".join(f"'{f.value}'" for f in NumberFormat)
# How a carrier wants a caller's request for privacy signalled (docs/nodes.md, "Caller-ID privacy"):
#   pai:  RFC 3325 - anonymous From, the caller ID in P-Asserted-Identity, "Privacy: id";
#   rpid: draft-ietf-sip-privacy-04 Remote-Party-ID (on every call; privacy=full on private ones), anonymous From.
PRIVACY_MODES = ("pai", "rpid")
_PRIVACY_MODES = ",".join(f"'{m}'" for m in PRIVACY_MODES)


class Carrier(Base):
    """An upstream provider, its signalling addresses and the number formats it demands."""

    __tablename__ = "carriers"
    __table_args__ = (
        CheckConstraint("tier IN (1, 2)", name="tier"),
        CheckConstraint("auth_mode IN ('ip', 'register')", name="auth_mode"),
        CheckConstraint(f"callerid_format IN ({_FORMATS})", name="callerid_format"),
        CheckConstraint(f"e911_callerid_format IN ({_FORMATS})", name="e911_callerid_format"),
        CheckConstraint(f"dial_format IN ({_FORMATS})", name="dial_format"),
        CheckConstraint("port BETWEEN 1 AND 65535", name="port"),
        CheckConstraint("max_channels >= 0", name="max_channels"),
        CheckConstraint("auth_mode = 'ip' OR (username IS NOT NULL AND password IS NOT NULL)", name="register_credentials"),
        CheckConstraint(f"privacy_mode IN ({_PRIVACY_MODES})", name="privacy_mode"),
        CheckConstraint(service_codes_check_sql("service_codes"), name="service_codes"),
        CheckConstraint(f"service_code_format IN ({_DIAL_FORMS})", name="service_code_format"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    tier: Mapped[int] = mapped_column(Integer, default=1)
    auth_mode: Mapped[str] = mapped_column(String(16), default="ip")
    # Space-separated IPs/CIDRs the carrier signals from; the first host is where we send calls.
    signalling_addresses: Mapped[str] = mapped_column(Text)
    port: Mapped[int] = mapped_column(Integer, default=5060)
    # `user` or `user@registrar domain` (app.services.carriers.split_username).
    username: Mapped[str | None] = mapped_column(String(128))
    password: Mapped[str | None] = mapped_column(String(80))
    callerid_format: Mapped[str] = mapped_column(String(8), default="e164")
    e911_callerid_format: Mapped[str] = mapped_column(String(8), default="e164")
    dial_format: Mapped[str] = mapped_column(String(8), default="e164")
    send_pai: Mapped[bool] = mapped_column(Boolean, default=False)
    privacy_mode: Mapped[str] = mapped_column(String(8), default="pai", server_default="pai")
    provides_911: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=10)
    max_channels: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The N11/988 codes it carries (app.service_codes: "211 311 ... 988"), and how it wants them dialled.
    service_codes: Mapped[str] = mapped_column(String(40), default=ALL_SERVICE_CODES)
    service_code_format: Mapped[str] = mapped_column(String(8), default="code")

    numbers = relationship("PhoneNumber", back_populates="carrier", foreign_keys="PhoneNumber.carrier_id", lazy="dynamic")

    @property
    def endpoint_id(self) -> str:
        """The PJSIP endpoint (and AOR) id this carrier is projected to."""
        return f"carrier-{self.name}"

    @property
    def address_list(self) -> list[str]:
        """Signalling addresses as a list."""
        return (self.signalling_addresses or "").split()

    def __str__(self) -> str:
        return self.name
