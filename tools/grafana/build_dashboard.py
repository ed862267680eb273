"""Build the Grafana dashboard of the whole system (deploy/helm/salesplane/files/grafana-dashboard.json).

The dashboard is written from this table of panels so that each query is written once and can be
checked: tests/deploy/test_monitoring.py validates every expression with promtool and fails when
the committed JSON differs from what this script makes. Run it after changing a panel:

    .venv/bin/python tools/grafana/build_dashboard.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGET = Path(__file__).resolve().parents[2] / "deploy/helm/salesplane/files/grafana-dashboard.json"
JOB = 'job=~"$job"'


def quantile(q: float, histogram: str, by: str) -> str:
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({histogram}_bucket{{{JOB}}}[5m])))"


def rate(counter: str, by: str) -> str:
    return f"sum by ({by}) (rate({counter}{{{JOB}}}[5m]))"


# (row, title, unit, [(legend, expr)]); each row's panels sit side by side, two per line.
PANELS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    (
        "HTTP edge (gateway)",
        "Requests by status",
        "reqps",
        [("{{status}}", f"sum by (status) (rate(http_server_requests_total{{{JOB}}}[5m]))")],
    ),
    (
        "HTTP edge (gateway)",
        "Latency p50 / p99 by route",
        "s",
        [
            (
                "p99 {{route}}",
                "histogram_quantile(0.99, sum by (route, le) "
                f"(rate(http_server_request_duration_seconds_bucket{{{JOB}}}[5m])))",
            ),
            (
                "p50 {{route}}",
                "histogram_quantile(0.5, sum by (route, le) "
                f"(rate(http_server_request_duration_seconds_bucket{{{JOB}}}[5m])))",
            ),
        ],
    ),
    (
        "gRPC services",
        "RPCs by service and code",
        "reqps",
        [
            (
                "{{job}} {{grpc_code}}",
                f"sum by (job, grpc_code) (rate(grpc_server_handled_total{{{JOB}}}[5m]))",
            )
        ],
    ),
    (
        "gRPC services",
        "Server-side error ratio",
        "percentunit",
        [
            (
                "{{job}}",
                'job:grpc_server_errors:rate5m{job=~"$job"} / job:grpc_server_requests:rate5m{job=~"$job"}',
            )
        ],
    ),
    (
        "gRPC services",
        "Handling time p99 by method",
        "s",
        [
            (
                "{{job}} {{grpc_method}}",
                "histogram_quantile(0.99, sum by (job, grpc_method, le) "
                f"(rate(grpc_server_handling_seconds_bucket{{{JOB}}}[5m])))",
            )
        ],
    ),
    (
        "gRPC services",
        "Database connections in use",
        "short",
        [
            ("{{pod}} in use", f'db_pool_connections{{{JOB}, state="checked_out"}}'),
            ("{{pod}} pool size", f'db_pool_connections{{{JOB}, state="size"}}'),
        ],
    ),
    (
        "Events",
        "Outbox: oldest unpublished event",
        "s",
        [("{{job}}", f"max by (job) (outbox_oldest_event_age_seconds{{{JOB}}})")],
    ),
    (
        "Events",
        "Outbox: pending and published",
        "short",
        [
            ("{{job}} pending", f"max by (job) (outbox_pending_events{{{JOB}}})"),
            ("{{job}} published/s", f"sum by (job) (rate(outbox_events_published_total{{{JOB}}}[5m]))"),
        ],
    ),
    (
        "Events",
        "Relay: publish p99 and failures",
        "s",
        [
            (
                "{{job}} p99",
                quantile(0.99, "outbox_publish_seconds", "job"),
            ),
            ("{{job}} failures/s", f"sum by (job) (rate(outbox_publish_failures_total{{{JOB}}}[5m]))"),
        ],
    ),
    (
        "Events",
        "Consumer lag by group and partition",
        "short",
        [
            (
                "{{consumer_group}} {{topic}}[{{partition}}]",
                f"sum by (consumer_group, topic, partition) (consumer_lag_records{{{JOB}}})",
            )
        ],
    ),
    (
        "Events",
        "Events consumed by outcome",
        "ops",
        [("{{job}} {{outcome}}", f"sum by (job, outcome) (rate(consumer_events_total{{{JOB}}}[5m]))")],
    ),
    (
        "Events",
        "Consumer batch p99",
        "s",
        [
            (
                "{{job}}",
                quantile(0.99, "consumer_batch_seconds", "job"),
            )
        ],
    ),
    (
        "Health",
        "Ready and live pods",
        "short",
        [
            ("{{job}} ready", f"sum by (job) (service_ready{{{JOB}}})"),
            ("{{job}} live", f"sum by (job) (service_live{{{JOB}}})"),
        ],
    ),
    (
        "Health",
        "Worker heartbeat age",
        "s",
        [("{{pod}} {{worker}}", f"max by (pod, worker) (worker_heartbeat_age_seconds{{{JOB}}})")],
    ),
]


def expressions() -> list[str]:
    """Every query of the dashboard (for promtool)."""
    return [expr for _, _, _, targets in PANELS for _, expr in targets]


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y, row, column = 0, None, 0
    for index, (row_title, title, unit, targets) in enumerate(PANELS):
        if row_title != row:
            if column:
                y += 8
            panels.append(
                {
                    "type": "row",
                    "title": row_title,
                    "id": 1000 + index,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
            )
            y, row, column = y + 1, row_title, 0
        panels.append(
            {
                "type": "timeseries",
                "title": title,
                "id": index + 1,
                "datasource": {"type": "prometheus", "uid": "$datasource"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * column, "y": y},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {"refId": chr(ord("A") + n), "expr": expr, "legendFormat": legend}
                    for n, (legend, expr) in enumerate(targets)
                ],
            }
        )
        column = (column + 1) % 2
        if column == 0:
            y += 8
    return {
        "uid": "salesplane-overview",
        "title": "Salesplane",
        "description": "The whole system: HTTP edge, gRPC services, the event pipeline and health.",
        "tags": ["salesplane"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
                {
                    "name": "job",
                    "type": "query",
                    "label": "Service",
                    "datasource": {"type": "prometheus", "uid": "$datasource"},
                    "query": "label_values(service_ready, job)",
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "refresh": 2,
                },
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(TARGET.parents[4])}")
