"""How many tasks wait in each Celery queue, asked of the broker (Redis or RabbitMQ alike, through
kombu's passive queue declaration). For the reaper (a backlog is not a loss) and for /metrics."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from kombu import Connection
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


def depths(broker_url: str, queues: Sequence[str], *, timeout: float = 2.0) -> dict[str, int | None]:
    """Messages ready in each queue; None for a queue that does not exist yet or a broker that does not
    answer within `timeout`."""
    out: dict[str, int | None] = dict.fromkeys(queues)
    try:
        with Connection(broker_url, connect_timeout=timeout, transport_options={"max_retries": 0}) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            channel = conn.default_channel
            for q in queues:
                try:
                    out[q] = int(channel.queue_declare(queue=q, passive=True).message_count)
                except Exception:
                    # Redis keeps a queue as a list, and an empty list does not exist: that is zero.
                    # RabbitMQ: not declared yet (no worker ever started): unknown, not zero.
                    out[q] = 0 if conn.transport.driver_type == "redis" else None
                    channel = conn.channel()
    except Exception as exc:
        log.warning("broker did not answer for queue depths: %s", type(exc).__name__)
    return out


class QueueDepthCollector(Collector):
    """`cadenza_queue_depth{queue}`, read from the broker at scrape time (never stale, one round trip)."""

    def __init__(self, broker_url: str, queues: Sequence[str], *, timeout: float = 2.0) -> None:
        self._broker_url = broker_url
        self._queues = list(queues)
        self._timeout = timeout

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "cadenza_queue_depth", "Tasks waiting in a Celery queue.", labels=["queue"]
        )
        for queue, depth in depths(self._broker_url, self._queues, timeout=self._timeout).items():
            if depth is not None:
                family.add_metric([queue], depth)
        yield family
