from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from webapp.phones import region_choices


class ApiKeyForm(FlaskForm):
    name = StringField("Key name", validators=[DataRequired(), Length(max=80)],
                       description="Where the key is used, e.g. 'WhatsApp bridge'")
    submit = SubmitField("Create API key")


class RegionForm(FlaskForm):
    default_region = SelectField("Workspace country", validators=[Optional()],
                                 description="Numbers typed without a country code are read in this country "
                                             "when the member's own numbers don't tell.")
    submit = SubmitField("Save country")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_region.choices = [("", "Not set")] + list(region_choices())
