"""Flask-WTF forms of the staff pages; each carries a CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class ActionForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that post."""


class ScanForm(FlaskForm):
    """One scanner-friendly field: what the wedge scanner typed before Enter."""

    code = StringField(_l("Scan"), validators=[DataRequired(), Length(max=256)])


class CardForm(FlaskForm):
    """Mark collected on an order page: the patron's card, for a bag that has none yet."""

    # Checked by the station's CardReader, which also refuses one too long.
    card = StringField(_l("Patron card"), validators=[Optional()])


class CollectForm(ScanForm):
    """Mark collected by scan: the bag label, then the patron's card if the bag has none."""

    card = StringField(_l("Patron card"), validators=[Optional()])


class CollectCardForm(CardForm):
    """The second step of a collect scan: the bag is known, the patron's card is asked."""

    code = HiddenField()


class PackForm(FlaskForm):
    override_reason = TextAreaField(_l("Reason for packing with items missing"),
                                    validators=[Optional(), Length(max=500)])


class SlotForm(FlaskForm):
    slot = StringField(_l("Slot label"), validators=[DataRequired(), Length(max=16)])


class NewOrderForm(FlaskForm):
    card = StringField(_l("Patron card"), validators=[DataRequired(), Length(max=64)])
    items = TextAreaField(_l("Item barcodes (one a line, optionally: barcode;title)"),
                          validators=[DataRequired(), Length(max=20000)])
    ref = StringField(_l("Reference (optional)"), validators=[Optional(), Length(max=64)])
    patron_name = StringField(_l("Patron name (optional)"),
                              validators=[Optional(), Length(max=200)])


class CorrectForm(FlaskForm):
    """Correct an order not yet collected: its branch (one of the library's) and its card."""

    branch = SelectField(_l("Branch"), validators=[DataRequired()])
    # Checked by the station's CardReader; empty keeps the card.
    card = StringField(_l("Patron card"), validators=[Optional(), Length(max=256)])
