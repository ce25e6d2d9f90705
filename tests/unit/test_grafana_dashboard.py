"""The Grafana dashboard in deploy/ asks only for metrics Cadenza defines (a renamed metric must not leave
an empty panel behind)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cadenza.telemetry import metrics, nginx

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "cadenza.json"


def test_every_panel_queries_a_metric_cadenza_exports() -> None:
    defined = {m._name for m in vars(metrics).values() if hasattr(m, "_name") and hasattr(m, "_type")}
    defined.add("cadenza_queue_depth")  # computed at scrape time (telemetry/queues.py)
    defined.update(nginx.METRICS)  # read from the edge at scrape time (telemetry/nginx.py)
    dashboard = json.loads(DASHBOARD.read_text())
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for name in re.findall(r"\b(cadenza_[a-z_]+)", target["expr"]):
                used.add(re.sub(r"_(bucket|count|sum|total)$", "", name))
    assert used and used <= defined, used - defined
