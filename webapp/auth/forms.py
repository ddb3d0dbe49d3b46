from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email()])
    password = PasswordField("Password", validators=[DataRequired()])
    next = HiddenField()
    submit = SubmitField("Sign in")


class AcceptInviteForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    password = PasswordField("Choose a password", validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField("Repeat the password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")])
    submit = SubmitField("Join workspace")


class JoinForm(FlaskForm):
    submit = SubmitField("Join workspace")
