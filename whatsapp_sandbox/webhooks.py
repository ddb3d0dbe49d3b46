"""Webhook delivery for every façade: a scheduler thread + a small pool of senders, retries per
the gateway's policy, the control API's delivery faults, and a log of every attempt.

A delivery's body and headers are built once when the event happens (request id, timestamp and
HMAC stay the same on every retry, as WAHA does); only the retry schedule differs by façade."""
import heapq
import itertools
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

log = logging.getLogger("whatsapp_sandbox.webhooks")
MAX_LOG = 50_000
FAULT_KEYS = {"drop", "duplicate", "delay", "reorder", "down", "facade"}


@dataclass
class Delivery:
    facade: str
    target: str  # session / instance name / phone_number_id
    event: str
    url: str
    body: bytes
    headers: dict
    max_retries: int
    delay_for: object  # fn(retry_number) -> seconds
    non_retryable: frozenset = frozenset()
    honour_retry_after: bool = False
    event_id: str | None = None
    copy: int = 1
    attempt: int = 0
    generation: int = 0
    payload: dict = field(default=None)


class Faults:
    def __init__(self):
        self.reset()

    def reset(self):
        self.drop = 0  # int: drop the next N; True: drop all
        self.duplicate = 1
        self.delay = 0.0
        self.reorder = 0
        self.down = False
        self.facade = None

    def configure(self, body: dict):
        unknown = set(body) - FAULT_KEYS
        if unknown:
            raise ValueError(f"Unknown fault(s) {sorted(unknown)}; use {sorted(FAULT_KEYS)}.")
        if "drop" in body:
            drop = body["drop"]
            if not isinstance(drop, (bool, int)) or (not isinstance(drop, bool) and drop < 0):
                raise ValueError("drop is a count of deliveries to drop, or true for all.")
            self.drop = drop
        if "duplicate" in body:
            if not isinstance(body["duplicate"], int) or body["duplicate"] < 1:
                raise ValueError("duplicate is how many times each delivery is sent (>= 1).")
            self.duplicate = body["duplicate"]
        if "delay" in body:
            if not isinstance(body["delay"], (int, float)) or body["delay"] < 0:
                raise ValueError("delay is seconds (>= 0) before the first attempt.")
            self.delay = float(body["delay"])
        if "reorder" in body:
            if not isinstance(body["reorder"], int) or body["reorder"] < 0 or body["reorder"] == 1:
                raise ValueError("reorder is a batch size >= 2 (0 turns it off).")
            self.reorder = body["reorder"]
        if "down" in body:
            self.down = bool(body["down"])
        if "facade" in body:
            if body["facade"] not in (None, "waha", "evolution", "graph"):
                raise ValueError("facade is null, 'waha', 'evolution' or 'graph'.")
            self.facade = body["facade"]

    def applies(self, delivery: Delivery) -> bool:
        return self.facade is None or self.facade == delivery.facade

    def snapshot(self) -> dict:
        return {"drop": self.drop, "duplicate": self.duplicate, "delay": self.delay,
                "reorder": self.reorder, "down": self.down, "facade": self.facade}


class Dispatcher:
    def __init__(self, delay_scale: float = 1.0, timeout: float = 30.0, workers: int = 8):
        self.delay_scale = delay_scale
        self.timeout = timeout
        self.faults = Faults()
        self._cond = threading.Condition()
        self._heap: list = []
        self._held: list[Delivery] = []
        self._seq = itertools.count()
        self._generation = 0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wa-webhook")
        self._http = requests.Session()
        self._log_lock = threading.Lock()
        self.entries: list[dict] = []
        self.log_offset = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="wa-webhook-scheduler", daemon=True)
        self._thread.start()

    # --- public ------------------------------------------------------------
    def enqueue(self, delivery: Delivery) -> None:
        with self._cond:
            delivery.generation = self._generation
            faults = self.faults
            if faults.applies(delivery) and faults.drop:
                if faults.drop is not True:
                    faults.drop -= 1
                self._record(delivery, outcome="dropped", fault="drop")
                return
            copies = faults.duplicate if faults.applies(delivery) else 1
            delay = faults.delay if faults.applies(delivery) else 0.0
            for n in range(1, copies + 1):
                job = delivery if n == 1 else _copy(delivery, n)
                if faults.applies(delivery) and faults.reorder:
                    self._held.append(job)
                    if len(self._held) >= faults.reorder:
                        self._release_held(delay)
                else:
                    self._schedule(job, delay)

    def flush(self) -> int:
        """Send deliveries held for reordering now (reversed)."""
        with self._cond:
            count = len(self._held)
            self._release_held(0.0)
            return count

    def give_up(self) -> int:
        """End every pending delivery as a gateway does after its last retry, now instead of after
        the whole back-off (minutes on a real gateway). In-flight attempts are not re-queued."""
        with self._cond:
            jobs = [job for _, _, job in self._heap if job.generation == self._generation] + self._held
            self._generation += 1
            self._heap.clear()
            self._held.clear()
        for job in jobs:
            self._record(job, outcome="gave_up", error="given up through the control API")
        return len(jobs)

    def reset(self) -> None:
        with self._cond:
            self._generation += 1
            self._heap.clear()
            self._held.clear()
            self.faults.reset()
            self._cond.notify()
        self.clear_log()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + len(self._held)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def clear_log(self) -> None:
        with self._log_lock:
            self.log_offset += len(self.entries)
            self.entries = []

    def log_since(self, since: int) -> tuple[list, int]:
        with self._log_lock:
            start = max(0, since - self.log_offset)
            return list(self.entries[start:]), self.log_offset + len(self.entries)

    # --- internals -------------------------------------------------------------
    def _release_held(self, delay: float) -> None:
        held, self._held = self._held, []
        for n, job in enumerate(reversed(held)):
            self._schedule(job, delay + 0.2 * n)  # spaced, so the reversed order survives concurrent sends

    def _schedule(self, job: Delivery, delay: float) -> None:
        # the "delay" fault is wall-clock seconds, never scaled
        heapq.heappush(self._heap, (time.time() + delay, next(self._seq), job))
        self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                now = time.time()
                if not self._heap or self._heap[0][0] > now:
                    timeout = None if not self._heap else self._heap[0][0] - now
                    self._cond.wait(timeout=timeout if timeout is None else min(timeout, 1.0))
                    continue
                _, _, job = heapq.heappop(self._heap)
                if job.generation != self._generation:
                    continue
            try:
                self._pool.submit(self._attempt, job)
            except RuntimeError:  # pool shut down
                return

    def _attempt(self, job: Delivery) -> None:
        job.attempt += 1
        status, error, retry_after = None, None, None
        if self.faults.down and self.faults.applies(job):
            error = "receiver down (simulated connection refused)"
        else:
            try:
                resp = self._http.post(job.url, data=job.body, headers=job.headers, timeout=self.timeout)
                status = resp.status_code
                retry_after = resp.headers.get("Retry-After")
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
        if status is not None and 200 <= status < 300:
            self._record(job, outcome="delivered", status=status)
            return
        retryable = status not in job.non_retryable
        if retryable and job.attempt <= job.max_retries:
            delay = job.delay_for(job.attempt) * self.delay_scale
            if job.honour_retry_after and retry_after and retry_after.isdigit():
                delay = max(delay, float(retry_after) * self.delay_scale)
            self._record(job, outcome="retrying", status=status, error=error, next_in=round(delay, 3))
            with self._cond:
                if job.generation == self._generation:
                    heapq.heappush(self._heap, (time.time() + delay, next(self._seq), job))
                    self._cond.notify()
            return
        self._record(job, outcome="gave_up" if retryable else "rejected", status=status, error=error)

    def _record(self, job: Delivery, outcome: str, status=None, error=None, fault=None, next_in=None) -> None:
        if job.payload is None:
            try:
                job.payload = json.loads(job.body)
            except ValueError:
                job.payload = None
        entry = {
            "time": time.time(), "facade": job.facade, "target": job.target, "event": job.event,
            "url": job.url, "attempt": job.attempt, "copy": job.copy, "outcome": outcome,
            "status": status, "error": error, "fault": fault, "next_retry_in": next_in,
            "event_id": job.event_id, "headers": dict(job.headers), "payload": job.payload,
        }
        with self._log_lock:
            entry["index"] = self.log_offset + len(self.entries)
            self.entries.append(entry)
            if len(self.entries) > MAX_LOG:
                drop = len(self.entries) - MAX_LOG
                self.entries = self.entries[drop:]
                self.log_offset += drop
        if outcome in ("gave_up", "rejected"):
            log.info("webhook %s %s to %s %s after %d attempt(s)", job.facade, job.event, job.url, outcome, job.attempt)


def _copy(delivery: Delivery, n: int) -> Delivery:
    clone = Delivery(**{k: getattr(delivery, k) for k in delivery.__dataclass_fields__})
    clone.headers = dict(delivery.headers)
    clone.copy = n
    return clone
