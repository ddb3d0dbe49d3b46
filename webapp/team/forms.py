from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from webapp.access import current_membership
from webapp.core.phones import InvalidPhone, regions_for, to_e164_in_regions


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField("Role", choices=[("member", "Member"), ("admin", "Admin")])
    submit = SubmitField("Create invite link")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[("member", "Member"), ("admin", "Admin")])
    submit = SubmitField("Change role")


class NumberForm(FlaskForm):
    number = StringField("WhatsApp number", validators=[DataRequired(), Length(max=40)],
                         description="With the country code (+1 415 555 0123) or in your country's format")
    label = StringField("Label", validators=[Optional(), Length(max=60)])
    submit = SubmitField("Add number")

    def validate_number(self, field):
        try:
            # The person adding it: national formats are read in their country, then the workspace's.
            field.data = to_e164_in_regions(field.data, regions_for(current_membership()))
        except InvalidPhone as exc:
            raise ValidationError(str(exc))


class CloseUserForm(FlaskForm):
    """A member's Close user, from the connected organization's active users ("" = by email)."""
    close_user_id = SelectField("Close user", choices=[], validate_choice=False)
    submit = SubmitField("Save")
