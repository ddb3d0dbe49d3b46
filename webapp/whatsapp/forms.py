from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from webapp.clients.gateways import registry


class GatewayForm(FlaskForm):
    kind = SelectField("Kind", choices=registry.choices(), default=registry.DEFAULT_KIND,
                       description="Evolution API: give its global API key (AUTHENTICATION_API_KEY)")
    name = StringField("Name", validators=[DataRequired(), Length(max=80)], description="e.g. Office WAHA")
    base_url = StringField("Base URL", validators=[DataRequired(), Length(max=300)],
                           description="The gateway's address, e.g. http://waha.internal:3000")
    api_key = PasswordField("API key", validators=[Optional(), Length(max=300)],
                            description="WAHA_API_KEY, or Evolution's global key (stored encrypted)")
    submit = SubmitField("Add gateway")


class LinkForm(FlaskForm):
    gateway_id = SelectField("Gateway", coerce=int)
    membership_id = SelectField("For", coerce=int, validators=[Optional()])
    submit = SubmitField("Link my WhatsApp")


class PairingForm(FlaskForm):
    phone = StringField("Your WhatsApp number", validators=[DataRequired(), Length(max=40)],
                        description="International format, e.g. +14155550123")
    submit = SubmitField("Get a pairing code")


class SettingsForm(FlaskForm):
    mirror_deletions = BooleanField("Delete the Close activity when a message is deleted on WhatsApp")
    submit = SubmitField("Save")
