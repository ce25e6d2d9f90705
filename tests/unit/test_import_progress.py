"""The import progress gauges (telemetry/imports.py): the batch's figures as given, and an ETA from this
run's pace that is NaN before any file has finished and 0 once none is left."""

from __future__ import annotations

import math

from prometheus_client import REGISTRY

from cadenza.telemetry.imports import Figures, ImportProgress, eta_seconds


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_the_eta_is_the_pace_so_far_applied_to_the_files_left() -> None:
    assert eta_seconds(finished_since_start=4, elapsed=20.0, left=10) == 50.0
    assert math.isnan(eta_seconds(finished_since_start=0, elapsed=20.0, left=10))
    assert eta_seconds(finished_since_start=0, elapsed=0.0, left=0) == 0.0


def test_a_resumed_import_counts_its_pace_from_where_this_run_started() -> None:
    now = [100.0]
    progress = ImportProgress("unit-batch", clock=lambda: now[0])
    # Resumed: 30 files were finished by an earlier run; this one has not finished any yet.
    assert math.isnan(progress.report(Figures(done=28, failed=1, skipped=1, processing=2, pending=68)))
    assert _value("cadenza_import_planned_tracks", batch="unit-batch") == 100
    assert _value("cadenza_import_tracks", batch="unit-batch", state="done") == 28
    assert _value("cadenza_import_tracks", batch="unit-batch", state="pending") == 68
    now[0] = 130.0  # 30 s later, 10 more finished: 3 s per file, 60 left
    assert progress.report(Figures(done=37, failed=2, skipped=1, processing=2, pending=58)) == 180.0
    assert _value("cadenza_import_eta_seconds", batch="unit-batch") == 180.0
    assert _value("cadenza_import_tracks", batch="unit-batch", state="failed") == 2
    now[0] = 400.0
    assert progress.report(Figures(done=97, failed=2, skipped=1, processing=0, pending=0)) == 0.0
    assert _value("cadenza_import_tracks", batch="unit-batch", state="processing") == 0
