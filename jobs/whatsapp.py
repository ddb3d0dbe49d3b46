"""RQ jobs of the WhatsApp gateways. They take ids; the rows are the truth. Enqueued by dotted
name ("jobs.whatsapp.process_events", "jobs.whatsapp.recover", …): webapp/ never imports jobs/."""
from webapp.jobs_app import job_context
from webapp.whatsapp import gateways_service, health, inbox, linking, recovery


def process_events(gateway_id):
    """Work a gateway's webhook inbox until empty (one job per gateway at a time)."""
    with job_context():
        try:
            done = inbox.process_pending(gateway_id)
        finally:
            inbox.finish(gateway_id)
        return done


def test_gateway(run_id):
    """One gateway connection test, asked for on the WhatsApp page."""
    with job_context():
        return gateways_service.run_test(run_id)


def end_session(gateway_id, session_name):
    """End a removed member's session at its gateway (retried by RQ while the gateway is down)."""
    with job_context():
        return linking.end_session(gateway_id, session_name)


def recover(link_id):
    """Gap recovery for one linked number."""
    with job_context():
        return recovery.recover(link_id)


def check_numbers():
    """rq cron: every number's health, plus a retry of held/failed webhook events."""
    with job_context():
        return health.check_all()


def recover_all():
    """rq cron: gap recovery for every linked number (catches deliveries lost without a status change)."""
    with job_context():
        return recovery.recover_all()
