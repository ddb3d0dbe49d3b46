"""What a production deployment must have set before it starts: each refusal is one line that
says what to set. (Development keeps its generated local secrets and the Close sandbox.)"""
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

SANDBOX_CLIENT_SECRET = "closeline-demo-secret"
SANDBOX_CLIENT_ID = "closeline-demo"
CLOSE_URL_KEYS = ("CLOSE_API_URL", "CLOSE_AUTHORIZE_URL", "CLOSE_TOKEN_URL", "CLOSE_REVOKE_URL",
                  "CLOSE_APP_URL")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


class ConfigurationError(RuntimeError):
    pass


def token_key_problem(key):
    try:
        Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError, AttributeError):
        return ("TOKEN_ENCRYPTION_KEY is not a valid Fernet key: set it to the output of "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`.")
    return None


def problems(config):
    found = []
    secret = config.get("SECRET_KEY") or ""
    if len(secret.encode() if isinstance(secret, str) else secret) < 32:
        found.append("SECRET_KEY is shorter than 32 bytes: set it to e.g. "
                     "`python -c 'import secrets; print(secrets.token_hex(32))'`.")
    problem = token_key_problem(config.get("TOKEN_ENCRYPTION_KEY") or "")
    if problem:
        found.append(problem)
    for key in CLOSE_URL_KEYS:
        host = (urlsplit(config.get(key) or "").hostname or "").lower()
        if not host or host in LOCAL_HOSTS:
            found.append(f"{key} still points at the local Close sandbox: set it to the real Close "
                         "endpoint (see README, Configuration).")
    if config.get("CLOSE_CLIENT_SECRET") in ("", None, SANDBOX_CLIENT_SECRET) or \
            config.get("CLOSE_CLIENT_ID") in ("", None, SANDBOX_CLIENT_ID):
        found.append("CLOSE_CLIENT_ID / CLOSE_CLIENT_SECRET are the sandbox's demo app: set them to your "
                     "Close OAuth app's credentials.")
    return found


def check_production(config):
    found = problems(config)
    if found:
        raise ConfigurationError("\n".join(found))
