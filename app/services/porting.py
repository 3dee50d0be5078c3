"""Port orders: move a batch of numbers from one upstream carrier to another, all at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utc_now
from app.errors import Conflict, ValidationError
from app.models import PhoneNumber, PortOrder, PortOrderNumber
from app.numbering import InvalidNumber, parse_nanp
from app.services import numbers as number_service
from app.services import refs
from app.services.audit import Actor, record
from app.services.fields import FieldError, blank

ENTITY = "port_order"
MAX_NUMBERS = 10000


def _image(order: PortOrder) -> dict:
    return {"from_carrier": order.from_carrier.name, "to_carrier": order.to_carrier.name, "due_date": order.due_date.isoformat(),
            "status": order.status, "numbers": [n.e164 for n in order.numbers], "note": order.note}


def _parse_date(value) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise FieldError(f"'{value}' is not a date (use YYYY-MM-DD)") from None


def _split_numbers(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if str(v).strip()]
    return [part for part in re.split(r"[\n,;]+", str(value or "")) if part.strip()]


def create(session: Session, data: Mapping, actor: Actor) -> PortOrder:
    """Open a port order; every number must be held by the losing carrier and not be in another open order.

    The numbers are marked port_in_pending towards the winning carrier (they keep routing through the
    losing carrier until the order is completed).
    """
    errors: dict[str, list[str]] = {}

    def ref(field):
        if blank(data.get(field)):
            errors.setdefault(field, []).append("is required")
            return None
        try:
            return refs.carrier(session, data.get(field))
        except FieldError as exc:
            errors.setdefault(field, []).append(str(exc))
            return None

    source, target = ref("from_carrier"), ref("to_carrier")
    if source is not None and target is not None and source.id == target.id:
        errors.setdefault("to_carrier", []).append("is the carrier the numbers are leaving: choose another one")
    due = None
    if blank(data.get("due_date")):
        errors.setdefault("due_date", []).append("is required")
    else:
        try:
            due = _parse_date(data.get("due_date"))
        except FieldError as exc:
            errors.setdefault("due_date", []).append(str(exc))
    raw = _split_numbers(data.get("numbers"))
    found: list[PhoneNumber] = []
    if not raw:
        errors.setdefault("numbers", []).append("at least one number is required")
    elif len(raw) > MAX_NUMBERS:
        errors.setdefault("numbers", []).append(f"{len(raw)} numbers: at most {MAX_NUMBERS} per order")
    else:
        seen = set()
        for text in raw:
            try:
                e164 = parse_nanp(text)
            except InvalidNumber as exc:
                errors.setdefault("numbers", []).append(f"{text.strip()}: {exc}")
                continue
            if e164 in seen:
                continue
            seen.add(e164)
            number = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == e164))
            if number is None:
                errors.setdefault("numbers", []).append(f"{e164} is not a number on this platform")
                continue
            if source is not None and number.carrier_id != source.id:
                errors.setdefault("numbers", []).append(f"{e164} is held by carrier {number.carrier.name}, not {source.name}")
            if number.port_status == "ported_out":
                errors.setdefault("numbers", []).append(f"{e164} has been ported out")
            other = session.scalar(select(PortOrder).join(PortOrderNumber).where(
                PortOrderNumber.e164 == e164, PortOrder.status == "pending"))
            if other is not None:
                errors.setdefault("numbers", []).append(f"{e164} is already in open port order #{other.id}")
            found.append(number)
    if errors:
        raise ValidationError(errors)
    order = PortOrder(from_carrier_id=source.id, to_carrier_id=target.id, due_date=due, status="pending",
                      note=(str(data.get("note") or "").strip() or None), created_by=actor.name)
    order.numbers = [PortOrderNumber(e164=n.e164) for n in found]
    session.add(order)
    session.flush()
    session.refresh(order, ["from_carrier", "to_carrier"])
    for number in found:
        number_service.save(session, {"port_status": "port_in_pending", "port_target_carrier": target}, actor, number)
    record(session, actor, "create", ENTITY, str(order.id), None, _image(order),
           summary=f"{len(found)} number(s) from {source.name} to {target.name} due {due.isoformat()}")
    return order


def complete(session: Session, order: PortOrder, actor: Actor) -> list[PhoneNumber]:
    """Move every number of the order to the winning carrier in the caller's transaction.

    Each number goes through the number service, so the realtime routing and E911 rows follow. If any
    number cannot move, ValidationError lists why and nothing should be committed (the caller rolls back).
    """
    if order.status != "pending":
        raise Conflict(f"{order.label} is {order.status}: only a pending order can be completed")
    before = _image(order)
    problems: list[str] = []
    moved: list[PhoneNumber] = []
    for item in order.numbers:
        number = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == item.e164))
        if number is None:
            problems.append(f"{item.e164} no longer exists on this platform")
            continue
        if number.carrier_id == order.to_carrier_id:
            continue  # already moved (by hand)
        if number.carrier_id != order.from_carrier_id:
            problems.append(f"{item.e164} is now held by carrier {number.carrier.name}, not {order.from_carrier.name}")
            continue
        try:
            number_service.save(session, {"carrier": order.to_carrier, "port_status": "active", "port_target_carrier": None},
                                actor, number)
        except ValidationError as exc:
            problems.extend(f"{item.e164}: {msg}" for msgs in exc.errors.values() for msg in msgs)
            continue
        moved.append(number)
    if problems:
        raise ValidationError(numbers=problems[0]) if len(problems) == 1 else ValidationError({"numbers": problems})
    order.status = "completed"
    order.completed_at = utc_now()
    session.flush()
    record(session, actor, "complete", ENTITY, str(order.id), before, _image(order),
           summary=f"{len(moved)} number(s) moved from {order.from_carrier.name} to {order.to_carrier.name}")
    return moved


def cancel(session: Session, order: PortOrder, actor: Actor) -> None:
    """Cancel a pending order; its numbers that still wait for this move go back to active."""
    if order.status != "pending":
        raise Conflict(f"{order.label} is {order.status}: only a pending order can be cancelled")
    before = _image(order)
    for item in order.numbers:
        number = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == item.e164))
        if (number is not None and number.port_status == "port_in_pending"
                and number.port_target_carrier_id == order.to_carrier_id):
            number_service.save(session, {"port_status": "active", "port_target_carrier": None}, actor, number)
    order.status = "cancelled"
    session.flush()
    record(session, actor, "cancel", ENTITY, str(order.id), before, _image(order))
