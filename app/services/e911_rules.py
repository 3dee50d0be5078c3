"""Rules for choosing a trunk's or a client's E911 number (the cascade itself is app.e911)."""

from __future__ import annotations

from app.models import Client, PhoneNumber
from app.services.fields import FieldError


def check_e911_number(number: PhoneNumber | None, owner: Client | None) -> None:
    """Refuse a number that cannot carry this client's 911 calls, saying why."""
    if number is None:
        return
    if owner is None or owner.id is None or number.client_id != owner.id:
        who = "no client" if number.client_id is None else f"client {number.client.account_code}"
        raise FieldError(f"{number.e164} belongs to {who}, not to this client")
    if not number.e911_registered:
        raise FieldError(f"{number.e164} is not registered for E911: register it (with its service address) first")
    if not number.carrier.provides_911:
        raise FieldError(f"{number.e164} is held by carrier {number.carrier.name}, which does not provide 911")
    if number.port_status == "ported_out":
        raise FieldError(f"{number.e164} has been ported out")
