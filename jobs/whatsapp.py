"""RQ jobs of the WhatsApp gateways. They take ids; the rows are the truth. Enqueued by dotted
name ("jobs.whatsapp.process_events", "jobs.whatsapp.recover", …): webapp/ never imports jobs/."""
from webapp.jobs_app import job_context
from webapp.whatsapp import gateways_service, health, inbox, linking
from webapp.whatsapp import reconcile as reconciliation


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


def reconcile(link_id, reason="schedule"):
    """One reconciliation of a linked number (one at a time per number: reconcile.request_reconciliation)."""
    with job_context():
        return reconciliation.run(link_id, reason)


def recover(link_id):
    """A later look after a (re)link, and gap recovery jobs queued before an upgrade: a request for a
    reconciliation (one run at a time per number)."""
    with job_context():
        return reconciliation.request_reconciliation(link_id, "reconnect")


def check_numbers():
    """rq cron: every number's health, plus a retry of held/failed webhook events."""
    with job_context():
        return health.check_all()


def reconcile_due():
    """rq cron tick: queue the reconciliation of every number whose scheduled run is due or that fell silent."""
    with job_context():
        return reconciliation.enqueue_due()
