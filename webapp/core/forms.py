"""Forms every feature uses."""
from flask_wtf import FlaskForm
from wtforms import SubmitField


class ConfirmForm(FlaskForm):
    """A bare CSRF-protected POST (remove, transfer, revoke)."""
    submit = SubmitField("Confirm")
