"""Forms of the Close CRM page. Every POST carries a CSRF token (FlaskForm)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, SubmitField
from wtforms.validators import AnyOf, ValidationError


class ActionForm(FlaskForm):
    """Buttons without fields (connect, test sync, catch-up): CSRF only."""


class SettingsForm(FlaskForm):
    auto_create_lead = BooleanField("Create a lead when no Close contact has the chat's phone")
    new_lead_status_id = SelectField("Status of new leads", validate_choice=False)
    sync_attachments = BooleanField("Sync attachments")
    catch_up_held = BooleanField("Catch up messages held while the subscription was inactive")
    send_to_inbox = BooleanField("Notify in Close's Inbox for incoming messages")
    submit = SubmitField("Save settings")

    def __init__(self, connection, *args, **kwargs):
        super().__init__(*args, obj=connection, **kwargs)
        self._status_ids = {s["id"] for s in connection.lead_statuses or []}
        self.new_lead_status_id.choices = [("", "Close default")] + [
            (s["id"], s["label"]) for s in connection.lead_statuses or []]

    def validate_new_lead_status_id(self, field):
        # The org's statuses are cached from Close; anything else is refused, nothing changes.
        if field.data and field.data not in self._status_ids:
            raise ValidationError("Pick one of the organization's lead statuses.")


class DisconnectForm(FlaskForm):
    confirm = HiddenField(validators=[AnyOf(["yes"], message="Confirm the disconnect.")])
    submit = SubmitField("Yes, disconnect")
