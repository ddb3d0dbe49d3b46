from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from webapp.core.i18n import language_choices
from webapp.core.phones import InvalidPhone, region_choices, to_e164


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


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), validators=[Optional()],
                           description=_l("The language of Closeline's pages for you. "
                                          "“Same as my browser” follows your browser's language setting."))
    submit = SubmitField(_l("Save language"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [("", _l("Same as my browser"))] + language_choices()


class CloudNumberForm(FlaskForm):
    phone_number_id = StringField("Phone number ID", validators=[DataRequired(), Length(max=40)],
                                  description="From Meta's WhatsApp Manager → API Setup (digits only)")
    number = StringField("Business phone number", validators=[DataRequired(), Length(max=40)],
                         description="The number customers write to, e.g. +14155550123")
    access_token = PasswordField("Access token", validators=[DataRequired(), Length(max=1000)],
                                 description="A system user token with whatsapp_business_messaging: Meta confirms "
                                             "with it that the number is yours, and photos and files customers "
                                             "send are fetched with it (stored encrypted)")
    submit = SubmitField("Register number")

    def validate_phone_number_id(self, field):
        field.data = (field.data or "").strip()
        if not field.data.isascii() or not field.data.isdigit() or len(field.data) < 5:
            raise ValidationError("Use the numeric Phone number ID shown by Meta (digits only).")

    def validate_number(self, field):
        try:
            field.data = to_e164(field.data)
        except InvalidPhone as exc:
            raise ValidationError(str(exc))


class CloudTokenForm(FlaskForm):
    access_token = PasswordField("Access token", validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField("Save token")
