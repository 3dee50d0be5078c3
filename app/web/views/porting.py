"""Port orders: open one for a batch of numbers, complete it (all numbers move at once) or cancel it."""

from __future__ import annotations

from flask import abort, flash, redirect, request
from flask_admin import expose
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.db import Session
from app.errors import DomainError, ValidationError
from app.models import Carrier, PhoneNumber, PortOrder
from app.numbering import display
from app.services import porting
from app.web import forms, labels
from app.web.security import web_actor
from app.web.views.base import FAILED, ServiceModelView, commit, form_write


class PortOrderView(ServiceModelView):
    form_class = forms.PortOrderForm
    entity = "port_order"
    column_list = ["id", "from_carrier", "to_carrier", "due_date", "status", "numbers", "created_by", "created_at", "completed_at"]
    column_export_list = column_list + ["note"]
    column_filters = ["status", "due_date", "from_carrier.name", "to_carrier.name"]
    column_sortable_list = ["id", "due_date", "status", "created_at"]
    column_default_sort = ("id", True)
    column_labels = {"id": "#", "from_carrier.name": "From carrier", "to_carrier.name": "To carrier", "from_carrier": "From carrier",
                     "to_carrier": "To carrier", "due_date": "Due date", "created_by": "Opened by", "created_at": "Opened at (UTC)",
                     "completed_at": "Completed at (UTC)"}
    column_choices = {"status": labels.choices(labels.PORT_ORDER_STATUS)}
    column_formatters = {"numbers": lambda v, c, m, n: f"{len(m.numbers)} number(s)"}
    column_formatters_export = {"numbers": lambda v, c, m, n: " ".join(x.e164 for x in m.numbers)}
    details_template = "trunkline/port_order_details.html"

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return False

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return False

    def get_query(self):
        return super().get_query().options(selectinload(PortOrder.numbers))

    def prepare_form(self, form, model):
        carriers = [(c.name, f"{c.name} (tier {c.tier}{', 911' if c.provides_911 else ''})")
                    for c in Session().scalars(select(Carrier).order_by(Carrier.name))]
        form.from_carrier.choices = forms.options([("", "— choose —")] + carriers)
        form.to_carrier.choices = forms.options([("", "— choose —")] + carriers)

    def create_model(self, form):
        order = form_write(form, lambda: porting.create(Session(), {f.name: f.data for f in form if f.name != "csrf_token"},
                                                        web_actor("form")))
        return False if order is FAILED else order

    def get_save_return_url(self, model, is_created=False):
        return self.get_url(".details_view", id=model.id)

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            order = kwargs["model"]
            e164s = [n.e164 for n in order.numbers]
            current = {n.e164: n for n in Session().scalars(select(PhoneNumber).where(PhoneNumber.e164.in_(e164s)))} if e164s else {}
            kwargs.update(current=current, display=display)
        return super().render(template, **kwargs)

    def _order(self) -> PortOrder:
        return Session().get(PortOrder, request.form.get("id", type=int) or 0) or abort(404)

    @expose("/complete/", methods=("POST",))
    def complete_view(self):
        order = self._order()
        try:
            moved = porting.complete(Session(), order, web_actor("action"))
            commit()
        except ValidationError as exc:
            Session.rollback()
            for messages in exc.errors.values():
                for message in messages:
                    flash(message, "error")
            flash(f"{order.label} was not completed: no number moved.", "error")
        except DomainError as exc:
            Session.rollback()
            flash(str(exc), "error")
        else:
            flash(f"{order.label} completed: {len(moved)} number(s) now held by {order.to_carrier.name}; "
                  "their routing and E911 rows follow.", "success")
        return redirect(self.get_url(".details_view", id=order.id))

    @expose("/cancel/", methods=("POST",))
    def cancel_view(self):
        order = self._order()
        try:
            porting.cancel(Session(), order, web_actor("action"))
            commit()
        except DomainError as exc:
            Session.rollback()
            flash(str(exc), "error")
        else:
            flash(f"{order.label} cancelled.", "success")
        return redirect(self.get_url(".details_view", id=order.id))
