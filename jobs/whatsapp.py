"""RQ jobs of the WhatsApp gateways. They take ids; the rows are the truth."""
from webapp.jobs_app import job_context as _context


def process_events(gateway_id):
    """Work a gateway's webhook inbox until empty (one job per gateway at a time)."""
    with _context():
        from webapp.whatsapp import inbox
        try:
            done = inbox.process_pending(gateway_id)
        finally:
            inbox.finish(gateway_id)
        return done


def recover(link_id):
    """Gap recovery for one linked number."""
    with _context():
        from webapp.whatsapp import recovery
        return recovery.recover(link_id)


def check_numbers():
    """rq cron: every number's health, plus a retry of held/failed webhook events."""
    with _context():
        from webapp.whatsapp import health
        return health.check_all()


def recover_all():
    """rq cron: gap recovery for every linked number (catches deliveries lost without a status change)."""
    with _context():
        from webapp.whatsapp import recovery
        return recovery.recover_all()
