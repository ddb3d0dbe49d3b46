"""Periodic jobs for `rq cron jobs.cron_config` (exactly one rq cron process per deployment)."""
from rq import cron

from config import Config
from jobs.connection import validate_all

QUEUE = Config.RQ_QUEUE

# Close connection: validate every live connection (default every 15 minutes).
cron.register(validate_all, queue_name=QUEUE, interval=Config.VALIDATION_INTERVAL, job_timeout=300)

# Sync engine: re-queue outbox rows stuck in `queued` or due `failed`.
from jobs.sync import sweep  # noqa: E402

cron.register(sweep, queue_name=QUEUE, interval=Config.SWEEP_INTERVAL, job_timeout=120)

# Privacy: message texts past a workspace's retention are erased, once a day.
from jobs.sync import erase_expired_texts  # noqa: E402

cron.register(erase_expired_texts, queue_name=QUEUE, interval=24 * 3600, job_timeout=1800)

# WhatsApp gateways: number health + retry of held webhook events; a tick that queues the
# reconciliations due (every WHATSAPP_RECONCILE_INTERVAL per number, or at once after silence).
from jobs.whatsapp import check_numbers, reconcile_due  # noqa: E402

cron.register(check_numbers, queue_name=QUEUE, interval=Config.WHATSAPP_HEALTH_INTERVAL, job_timeout=300)
cron.register(reconcile_due, queue_name=QUEUE, interval=min(60, Config.WHATSAPP_RECONCILE_INTERVAL), job_timeout=120)
