"""Staff accounts in the browser, for admins: list, add, unlock."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from kiosk import webpolicy
from kiosk.domain import accounts
from kiosk.extensions import db
from kiosk.models import StaffUser
from kiosk.staff import bp
from kiosk.staff.auth import admin_required
from kiosk.staff.common import answer, commit, describe
from kiosk.staff.forms import ActionForm


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    role = SelectField(_l("Role"), choices=[SelectChoice("staff", _l("staff")),
                                            SelectChoice("admin", _l("admin"))])


def _page(form: UserForm, status: int = 200):
    users = db.session.scalars(select(StaffUser).order_by(StaffUser.username)).all()
    throttle = webpolicy.throttle()
    locked = {u.id for u in users if throttle.locked(
        throttle.account_key(u.username, u.session_generation))}
    return render_template("staff/users.html", users=users, form=form, locked=locked,
                           action_form=ActionForm()), status


@bp.get("/users")
@admin_required
def users():
    return _page(UserForm())


@bp.post("/users")
@admin_required
def add_user():
    form = UserForm()
    if not form.validate():
        return _page(form, 400)
    try:
        user = commit(lambda: accounts.create_user(db.session, form.username.data.strip(),
                                                   form.password.data, form.role.data))
    except accounts.AccountError as exc:
        form.username.errors = [describe(exc)]
        return _page(form, 422)
    return answer(_("User %(name)s added.", name=user.username), to=url_for("staff.users"))


@bp.post("/users/<int:user_id>/unlock")
@admin_required
def unlock_user(user_id: int):
    ActionForm()
    user = db.session.get(StaffUser, user_id)
    if user is None:
        return answer(_("No such user."), ok=False, to=url_for("staff.users"), status=404)

    commit(lambda: accounts.unlock(db.session, user))
    return answer(_("User %(name)s unlocked.", name=user.username),
                  to=request.referrer or url_for("staff.users"))
