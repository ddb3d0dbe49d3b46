"""Periodic jobs for `rq cron jobs.cron_config` (exactly one rq cron process per deployment)."""
from rq import cron

from config import Config
from jobs.connection import validate_all

QUEUE = Config.RQ_QUEUE

# Close connection (issue 5): validate every live connection (default every 15 minutes).
cron.register(validate_all, queue_name=QUEUE, interval=Config.VALIDATION_INTERVAL, job_timeout=300)

# Sync engine (issue 6): re-queue outbox rows stuck in `queued` or due `failed`.
from jobs.sync import sweep  # noqa: E402
cron.register(sweep, queue_name=QUEUE, interval=Config.SWEEP_INTERVAL, job_timeout=120)
