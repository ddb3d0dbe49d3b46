from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from webapp.phones import InvalidPhone, to_e164


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField("Role", choices=[("member", "Member"), ("admin", "Admin")])
    submit = SubmitField("Create invite link")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[("member", "Member"), ("admin", "Admin")])
    submit = SubmitField("Change role")


class NumberForm(FlaskForm):
    number = StringField("WhatsApp number", validators=[DataRequired(), Length(max=40)],
                         description="International format, e.g. +14155550123")
    label = StringField("Label", validators=[Optional(), Length(max=60)])
    submit = SubmitField("Add number")

    def validate_number(self, field):
        try:
            field.data = to_e164(field.data)
        except InvalidPhone as exc:
            raise ValidationError(str(exc))


class ConfirmForm(FlaskForm):
    """A bare CSRF-protected POST (remove, transfer, revoke)."""
    submit = SubmitField("Confirm")
