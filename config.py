"""Configuration classes. Every setting comes from an environment variable; see README."""
import os
from datetime import timedelta

BASE_DIR = os.path.abspath(os.path.dirname(__file__))
INSTANCE_DIR = os.environ.get("CLOSELINE_INSTANCE_DIR", os.path.join(BASE_DIR, "instance"))


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# `make run` serves Closeline on WEB_PORT and the Close sandbox on SANDBOX_PORT; the URLs below follow
# them, so commands run beside the stack (e.g. `make demo-traffic`) reach it on the same ports.
WEB_URL = f"http://127.0.0.1:{os.environ.get('WEB_PORT', '5000')}"
SANDBOX_URL = f"http://127.0.0.1:{os.environ.get('SANDBOX_PORT', '5050')}"


def _read_instance_file(name):
    path = os.path.join(INSTANCE_DIR, name)
    if os.path.exists(path):
        with open(path) as fh:
            return fh.read().strip() or None
    return None


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY") or _read_instance_file("secret_key")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(
        INSTANCE_DIR, "closeline.db"
    )
    # A drain's pool threads each hold a connection while they work (SYNC_POOL_SIZE + the drain).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 30}
    # Empty REDIS_URL means "start or use the embedded Redis" (see webapp/core/redis_conn.py).
    # (`make run` writes its embedded Redis URL to instance/redis.url, so `flask` commands run
    # beside it reach the same server.)
    REDIS_URL = os.environ.get("REDIS_URL") or _read_instance_file("redis.url") or ""
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "closeline")

    # Tokens at rest are encrypted with this Fernet key (urlsafe base64, 32 bytes).
    TOKEN_ENCRYPTION_KEY = os.environ.get("TOKEN_ENCRYPTION_KEY") or _read_instance_file("fernet.key")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    # werkzeug's method string; scrypt is deliberately slow (about 80 ms a hash here).
    PASSWORD_HASH_METHOD = "scrypt"
    PUBLIC_URL = os.environ.get("PUBLIC_URL", WEB_URL)
    # Reverse proxies in front of Closeline whose X-Forwarded-For/-Proto are trusted (0 = none).
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0") or 0)

    # Close CRM (defaults point at the local sandbox started by `make run`).
    CLOSE_API_URL = os.environ.get("CLOSE_API_URL", f"{SANDBOX_URL}/api/v1")
    CLOSE_AUTHORIZE_URL = os.environ.get("CLOSE_AUTHORIZE_URL", f"{SANDBOX_URL}/oauth2/authorize/")
    CLOSE_TOKEN_URL = os.environ.get("CLOSE_TOKEN_URL", f"{SANDBOX_URL}/oauth2/token/")
    CLOSE_REVOKE_URL = os.environ.get("CLOSE_REVOKE_URL", f"{SANDBOX_URL}/oauth2/revoke/")
    CLOSE_APP_URL = os.environ.get("CLOSE_APP_URL", SANDBOX_URL)
    CLOSE_CLIENT_ID = os.environ.get("CLOSE_CLIENT_ID", "closeline-demo")
    CLOSE_CLIENT_SECRET = os.environ.get("CLOSE_CLIENT_SECRET", "closeline-demo-secret")
    CLOSE_REDIRECT_URI = os.environ.get("CLOSE_REDIRECT_URI", f"{WEB_URL}/integrations/close/callback")
    # An API key for connection rows without OAuth tokens (development and benchmarks only).
    CLOSE_API_KEY = os.environ.get("CLOSE_API_KEY", "")
    CLOSE_TIMEOUT = float(os.environ.get("CLOSE_TIMEOUT", "10"))
    VALIDATION_INTERVAL = int(os.environ.get("VALIDATION_INTERVAL", "900"))
    SWEEP_INTERVAL = int(os.environ.get("SWEEP_INTERVAL", "60"))

    # Sync engine tunables (read once, here; tests override them through create_app(config)).
    # History import: messages released to the outbox per slice, and how often the feeder looks.
    # A live message waits behind at most one slice: 25 ≈ 4-6 s at Close's 150 ms per call.
    SYNC_IMPORT_SLICE = int(os.environ.get("SYNC_IMPORT_SLICE", "25"))
    SYNC_IMPORT_INTERVAL = float(os.environ.get("SYNC_IMPORT_INTERVAL", "0.5"))
    SYNC_BATCH_SIZE = int(os.environ.get("SYNC_BATCH_SIZE", "200"))           # rows claimed per drain round
    SYNC_POOL_SIZE = int(os.environ.get("SYNC_POOL_SIZE", "24"))              # chats delivered at once per drain
    SYNC_DRAIN_BUDGET = float(os.environ.get("SYNC_DRAIN_BUDGET", "20"))      # seconds per drain job (fairness)
    SYNC_LEASE_SECONDS = float(os.environ.get("SYNC_LEASE_SECONDS", "120"))   # a dead worker's rows come back
    SYNC_MAX_ATTEMPTS = int(os.environ.get("SYNC_MAX_ATTEMPTS", "12"))        # then `dead` (~6 h of backoff)
    SYNC_RETRY_BASE = float(os.environ.get("SYNC_RETRY_BASE", "10"))          # backoff: base * 3^(n-1), capped
    SYNC_RETRY_CAP = float(os.environ.get("SYNC_RETRY_CAP", "3600"))
    SYNC_INLINE_RETRIES = int(os.environ.get("SYNC_INLINE_RETRIES", "2"))     # quick retries inside the job
    SYNC_FLAG_TTL = float(os.environ.get("SYNC_FLAG_TTL", "90"))              # "a drain is scheduled" flag
    SYNC_PROBE_CAP = float(os.environ.get("SYNC_PROBE_CAP", "60"))            # Close down: seconds between probes, at most
    SYNC_INDEX_GRACE = float(os.environ.get("SYNC_INDEX_GRACE", "300"))      # a lead another try may have made shows in search
    SYNC_MAX_ATTACHMENT_BYTES = int(os.environ.get("SYNC_MAX_ATTACHMENT_BYTES", "25000000"))  # Close's "25 MB", decimal
    # Wall-clock budgets for attachment downloads: one file, and all files of one message.
    SYNC_ATTACHMENT_FILE_DEADLINE = float(os.environ.get("SYNC_ATTACHMENT_FILE_DEADLINE", "60"))
    SYNC_ATTACHMENT_MESSAGE_DEADLINE = float(os.environ.get("SYNC_ATTACHMENT_MESSAGE_DEADLINE", "120"))

    # WhatsApp webhooks (Cloud API and gateways): the body limit is checked before the signature.
    WHATSAPP_VERIFY_TOKEN = os.environ.get("WHATSAPP_VERIFY_TOKEN", "")
    WHATSAPP_APP_SECRET = os.environ.get("WHATSAPP_APP_SECRET", "")
    # Graph API root for Cloud API media (id → URL → bytes). A private address here (a local
    # stand-in) is let through the guarded fetcher for exactly this host and port.
    GRAPH_API_URL = os.environ.get("GRAPH_API_URL", "https://graph.facebook.com/v21.0")

    # WhatsApp gateways (WAHA): the address gateways post webhooks to (default PUBLIC_URL), how
    # often number health is checked and missed messages are fetched (seconds).
    WHATSAPP_WEBHOOK_BASE_URL = os.environ.get("WHATSAPP_WEBHOOK_BASE_URL", "")
    WHATSAPP_HEALTH_INTERVAL = int(os.environ.get("WHATSAPP_HEALTH_INTERVAL", "60"))
    # A signed gateway event older than this is refused (a captured delivery can't be replayed once
    # its dedupe row is gone). Gateways are set to finish their retries inside this window; what
    # they give up on is fetched by gap recovery.
    WEBHOOK_MAX_AGE = int(os.environ.get("WEBHOOK_MAX_AGE", "300"))
    # Gateways must be at public addresses; a gateway beside Closeline on a private address (or
    # loopback) is allowed only when its exact host:port is listed here, comma-separated
    # (e.g. "waha.internal:3000,10.0.0.5:8080"). Nothing else private is ever called.
    GATEWAY_ALLOWED_HOSTS = os.environ.get("GATEWAY_ALLOWED_HOSTS", "")
    # Reconciliation (whatsapp/reconcile.py), in seconds: how often every linked number's chats are
    # compared with the gateway's history; how far behind each chat's watermark a run reads again
    # (messages the gateway stores late, with their original time); how many messages one run may
    # read before it hands over to the next; how long a number that talked in the last day may be
    # silent (no webhook) before it is reconciled at once.
    WHATSAPP_RECONCILE_INTERVAL = int(os.environ.get("WHATSAPP_RECONCILE_INTERVAL", "300"))
    WHATSAPP_RECONCILE_OVERLAP = int(os.environ.get("WHATSAPP_RECONCILE_OVERLAP", "600"))
    WHATSAPP_RECONCILE_MAX_MESSAGES = int(os.environ.get("WHATSAPP_RECONCILE_MAX_MESSAGES", "2000"))
    WHATSAPP_SILENCE_AFTER = int(os.environ.get("WHATSAPP_SILENCE_AFTER", "900"))
    # A message of a chat WhatsApp shows only by its LID waits this long (seconds) for the gateway
    # to learn the customer's number, visible in the sync log; then it stays there as skipped.
    WHATSAPP_HIDDEN_NUMBER_WAIT = int(os.environ.get("WHATSAPP_HIDDEN_NUMBER_WAIT", str(2 * 24 * 3600)))
    # After a number is (re)linked the gateway's history arrives over minutes, not at once: a
    # reconciliation runs at the link and again after each of these delays (seconds, comma-separated).
    GATEWAY_LINK_RECOVERY_DELAYS = os.environ.get("GATEWAY_LINK_RECOVERY_DELAYS", "30,120,600")
    # A linked number the gateway calls connected but that sent no event for this long (seconds) is
    # probed with a call that needs its live WhatsApp connection; a dead one is restarted.
    GATEWAY_LIVENESS_SILENCE = int(os.environ.get("GATEWAY_LIVENESS_SILENCE", "900"))
    # Demo: `flask seed-demo` adds a WAHA gateway pointing at the WhatsApp sandbox when set.
    WHATSAPP_SANDBOX_URL = os.environ.get("WHATSAPP_SANDBOX_URL", "")
    WHATSAPP_SANDBOX_WAHA_API_KEY = os.environ.get("WHATSAPP_SANDBOX_WAHA_API_KEY", "waha-sandbox-key")
    WHATSAPP_SANDBOX_EVOLUTION_API_KEY = os.environ.get("WHATSAPP_SANDBOX_EVOLUTION_API_KEY", "evolution-sandbox-key")
    WHATSAPP_SANDBOX_GRAPH_ACCESS_TOKEN = os.environ.get("WHATSAPP_SANDBOX_GRAPH_ACCESS_TOKEN", "graph-sandbox-token")

    # Who customers contact to renew or change their subscription (the Subscription page and the
    # "sync paused" banners): an email address, a URL or a sentence. Set by the operator.
    SUPPORT_CONTACT = os.environ.get("SUPPORT_CONTACT", "")

    # Optional email for notifications.
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
    SMTP_FROM = os.environ.get("SMTP_FROM", "closeline@localhost")

    # Operations: /metrics answers only with this bearer token (unset: /metrics is off, 404).
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
    # Per-workspace labels on the message gauges (off sums them: for many hundreds of workspaces).
    METRICS_WORKSPACE_LABELS = _bool("METRICS_WORKSPACE_LABELS", True)
    # Log lines: "text" (default) or "json" (one JSON object per line, for log collectors).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()

    MAX_CONTENT_LENGTH = 40 * 1024 * 1024  # base64 of a 25 MB attachment fits
    TESTING = False
    DEMO = _bool("CLOSELINE_DEMO", False)


class DevelopmentConfig(Config):
    DEBUG = False


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key"
    TOKEN_ENCRYPTION_KEY = "l5Ohc7e6B9G0N8x0q3lJ2hS9iTqY4c2sVqf7mFZt0ZQ="
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    LOGIN_RATE_LIMIT = "1000 per minute"
    # Hundreds of sign-ins per run: a cheap hash keeps them from costing minutes of CPU.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}
