from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length


class ApiKeyForm(FlaskForm):
    name = StringField("Key name", validators=[DataRequired(), Length(max=80)],
                       description="Where the key is used, e.g. 'WhatsApp bridge'")
    submit = SubmitField("Create API key")
