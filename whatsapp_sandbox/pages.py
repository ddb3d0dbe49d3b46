"""Phone simulator pages (filled in later)."""
from flask import Blueprint

bp = Blueprint("pages", __name__)
