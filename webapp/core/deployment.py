"""What a production deployment must have set before it starts: each refusal is one line that
says what to set. (Development keeps its generated local secrets and the Close sandbox.)"""
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from webapp.core.outbound import literal_address

SANDBOX_CLIENT_SECRET = "closeline-demo-secret"
SANDBOX_CLIENT_ID = "closeline-demo"
CLOSE_URL_KEYS = ("CLOSE_API_URL", "CLOSE_AUTHORIZE_URL", "CLOSE_TOKEN_URL", "CLOSE_REVOKE_URL",
                  "CLOSE_APP_URL")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
# The Fernet key of config.TestingConfig: public, in the repository.
TESTING_FERNET_KEY = "l5Ohc7e6B9G0N8x0q3lJ2hS9iTqY4c2sVqf7mFZt0ZQ="
MIN_APP_SECRET = 16


def _is_local(url):
    """True for a URL at this machine, however it is spelled (127.1, 2130706433, [::1], localhost.)."""
    host = (urlsplit(url or "").hostname or "").rstrip(".").lower()
    if not host or host in LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    ip = literal_address(host)
    return ip is not None and (ip.is_loopback or ip.is_unspecified or
                               (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback))


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
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < 32 or len(set(raw)) == 1:
        found.append("SECRET_KEY is shorter than 32 bytes or one repeated character: set it to e.g. "
                     "`python -c 'import secrets; print(secrets.token_hex(32))'`.")
    key = config.get("TOKEN_ENCRYPTION_KEY") or ""
    problem = token_key_problem(key)
    if problem:
        found.append(problem)
    elif (key.decode() if isinstance(key, bytes) else key) == TESTING_FERNET_KEY:
        found.append("TOKEN_ENCRYPTION_KEY is the tests' public key: set it to a new "
                     "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`.")
    for key_name in CLOSE_URL_KEYS:
        url = config.get(key_name) or ""
        if _is_local(url):
            found.append(f"{key_name} still points at the local Close sandbox: set it to the real Close "
                         "endpoint (see README, Configuration).")
        elif urlsplit(url).scheme != "https":
            found.append(f"{key_name} is not https: set it to Close's https:// endpoint.")
    if config.get("CLOSE_CLIENT_SECRET") in ("", None, SANDBOX_CLIENT_SECRET) or \
            config.get("CLOSE_CLIENT_ID") in ("", None, SANDBOX_CLIENT_ID):
        found.append("CLOSE_CLIENT_ID / CLOSE_CLIENT_SECRET are the sandbox's demo app: set them to your "
                     "Close OAuth app's credentials.")
    if config.get("CLOSE_API_KEY"):
        found.append("CLOSE_API_KEY is set (a development shortcut for rows without OAuth): unset it.")
    for key_name in ("PUBLIC_URL", "CLOSE_REDIRECT_URI"):
        url = config.get(key_name) or ""
        if _is_local(url) or urlsplit(url).scheme != "https":
            found.append(f"{key_name} is not a public https:// address: set it to Closeline's own https URL.")
    if not config.get("SESSION_COOKIE_SECURE"):
        found.append("SESSION_COOKIE_SECURE is off: set SESSION_COOKIE_SECURE=1 (Closeline runs behind https).")
    app_secret = config.get("WHATSAPP_APP_SECRET") or ""
    if app_secret and len(app_secret) < MIN_APP_SECRET:
        found.append(f"WHATSAPP_APP_SECRET is shorter than {MIN_APP_SECRET} characters: set it to your Meta "
                     "app's App Secret.")
    return found


def check_production(config):
    found = problems(config)
    if found:
        raise ConfigurationError("\n".join(found))
