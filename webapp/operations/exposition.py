"""The Prometheus exposition of /metrics, computed at scrape time.

Gauges are read from the database and Redis when Prometheus asks (so every web process answers
the same); counters and the Close latency histogram come from the one Redis hash every process
counts into (webapp/core/metrics.py). Labels: `workspace` only on the per-workspace message gauges
(workspaces × 7 states series; METRICS_WORKSPACE_LABELS=0 sums them for deployments with many
hundreds of workspaces), fixed words everywhere else.
"""
import sqlalchemy as sa
from flask import current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from rq import Queue, Worker

from webapp.core import metrics
from webapp.core.extensions import db
from webapp.core.redis_conn import get_redis
from webapp.models import GatewayEvent, Message, NumberLink, utcnow
from webapp.models.messages import MESSAGE_STATES

PREFIX = "closeline_"
# The classic text format, which every Prometheus version scrapes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeTimeCollector(current_app.config.get("METRICS_WORKSPACE_LABELS", True)))
    return generate_latest(registry), CONTENT_TYPE


class ScrapeTimeCollector:
    def __init__(self, per_workspace):
        self.per_workspace = per_workspace

    def collect(self):
        yield from self._messages()
        yield from self._queue()
        yield self._grouped("linked_numbers", "WhatsApp number links by health state", NumberLink.state)
        yield self._grouped("gateway_events", "Gateway webhook events in the inbox by state", GatewayEvent.state)
        yield from counters(metrics.read_all())

    def _messages(self):
        labels = ["workspace", "state"] if self.per_workspace else ["state"]
        by_state = GaugeMetricFamily(PREFIX + "messages", "Messages by sync state", labels=labels)
        columns = [Message.workspace_id, Message.state] if self.per_workspace else [Message.state]
        seen = set()
        for *keys, number in db.session.execute(
                sa.select(*columns, sa.func.count()).group_by(*columns).order_by(*columns)):
            by_state.add_metric([str(key) for key in keys], number)
            seen.add(tuple(str(key) for key in keys))
        if not self.per_workspace:  # every state appears, at 0 when no message is in it
            for state in MESSAGE_STATES:
                if (state,) not in seen:
                    by_state.add_metric([state], 0)
        yield by_state

        age = GaugeMetricFamily(PREFIX + "outbox_oldest_queued_age_seconds",
                                "Age of the oldest message waiting in the outbox (state queued)",
                                labels=["workspace"] if self.per_workspace else [])
        now = utcnow()
        if self.per_workspace:
            rows = db.session.execute(sa.select(Message.workspace_id, sa.func.min(Message.queued_at))
                                      .where(Message.state == "queued").group_by(Message.workspace_id))
            for workspace_id, oldest in rows:
                age.add_metric([str(workspace_id)], _seconds_since(oldest, now))
        else:
            oldest = db.session.scalar(sa.select(sa.func.min(Message.queued_at)).where(Message.state == "queued"))
            age.add_metric([], _seconds_since(oldest, now))
        yield age

    def _queue(self):
        conn = get_redis()
        queue = Queue(current_app.config["RQ_QUEUE"], connection=conn)
        depth = GaugeMetricFamily(PREFIX + "queue_depth", "Jobs waiting in the RQ queue", labels=["queue"])
        depth.add_metric([queue.name], queue.count)
        yield depth
        workers = GaugeMetricFamily(PREFIX + "workers", "Live RQ workers on the queue", labels=["queue"])
        workers.add_metric([queue.name], len(Worker.all(queue=queue)))
        yield workers

    def _grouped(self, name, documentation, column):
        family = GaugeMetricFamily(PREFIX + name, documentation, labels=["state"])
        for state, number in db.session.execute(sa.select(column, sa.func.count()).group_by(column).order_by(column)):
            family.add_metric([state], number)
        return family


def _seconds_since(moment, now):
    if moment is None:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return max((now - moment).total_seconds(), 0.0)


def counters(values):
    """The counter and histogram families from the Redis hash; every declared counter appears."""
    series = {}
    for raw, value in values.items():
        name, labels = metrics.parse_field(raw)
        series.setdefault(name, []).append((dict(labels), value))
    for name, (documentation, label_names) in metrics.COUNTERS.items():
        family = CounterMetricFamily(PREFIX + name, documentation, labels=list(label_names))
        rows = series.get(name) or ([] if label_names else [({}, 0.0)])
        for labels, value in sorted(rows, key=lambda row: sorted(row[0].items())):
            family.add_metric([labels.get(label, "") for label in label_names], value)
        yield family
    for name, (documentation, bounds) in metrics.HISTOGRAMS.items():
        per_bucket = {labels["le"]: value for labels, value in series.get(name + "_bucket", [])}
        buckets, running = [], 0.0
        for bound in [str(b) for b in bounds] + ["+Inf"]:
            running += per_bucket.get(bound, 0.0)
            buckets.append((bound, running))
        total = sum(value for _, value in series.get(name + "_sum", []))
        family = HistogramMetricFamily(PREFIX + name, documentation)
        family.add_metric([], buckets, sum_value=total)
        yield family
