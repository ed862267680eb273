"""Admin / inspection thresholds: when pipeline inspection flags a rep, a team or a deal. Shares and
multiples are basis points in the API (10000 = 100 % or 1x); the form shows them as percentages
and reads them back exactly with Decimal ("12.5" % is 1250 bp; a third decimal is refused, never
rounded). Saved whole with UpdateInspectionSettings at the version it was read at."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.forecasting.v1 import inspection_pb2
from salesplane_gateway.console.admin_forms import FormCheck, percent_text, refused
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page, require_user, see_other
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_inspection import INSPECTION

_THRESHOLDS = inspection_pb2.InspectionThresholds.DESCRIPTOR


@dataclass(frozen=True)
class Threshold:
    name: str
    # "percent": basis points shown as a percentage; "count": a whole number as it is.
    unit: str
    group: str


THRESHOLDS = (
    Threshold("low_p_quota_bp", "percent", "team"),
    Threshold("coverage_tolerance_bp", "percent", "team"),
    Threshold("default_coverage_needed_bp", "percent", "team"),
    Threshold("max_coverage_needed_bp", "percent", "team"),
    Threshold("pacing_tolerance_bp", "percent", "team"),
    Threshold("commit_excess_bp", "percent", "team"),
    Threshold("commit_shortfall_bp", "percent", "team"),
    Threshold("slipping_share_bp", "percent", "team"),
    Threshold("slipping_lookback_days", "count", "team"),
    Threshold("bias_tolerance_bp", "percent", "team"),
    Threshold("bias_min_periods", "count", "team"),
    Threshold("trailing_periods", "count", "team"),
    Threshold("movement_lookback_days", "count", "team"),
    Threshold("stalled_percentile", "count", "deal"),
    Threshold("stalled_min_samples", "count", "deal"),
    Threshold("large_deal_share_bp", "percent", "deal"),
    Threshold("unlikely_max_probability", "count", "deal"),
    Threshold("unlikely_max_stage_order", "count", "deal"),
    Threshold("pushes_to_flag", "count", "deal"),
    Threshold("no_change_days", "count", "deal"),
    Threshold("backward_lookback_days", "count", "deal"),
)
# Unset means "judge by probability only" (inspection.proto).
OPTIONAL = frozenset({"unlikely_max_stage_order"})


def labels() -> dict[str, tuple[str, str]]:
    """Each threshold's label and what it does (domain/inspection/thresholds.py says it first)."""
    return {
        "low_p_quota_bp": (
            gettext("Low chance of reaching quota (%)"),
            gettext("Flag when P(reaching quota) is below this."),
        ),
        "coverage_tolerance_bp": (
            gettext("Coverage tolerance (%)"),
            gettext("Flag when coverage is below the coverage needed less this share."),
        ),
        "default_coverage_needed_bp": (
            gettext("Default coverage needed (%)"),
            gettext("Without a win-rate history; 300 % is 3 times (a 33 % win rate)."),
        ),
        "max_coverage_needed_bp": (
            gettext("Most coverage ever needed (%)"),
            gettext("Caps the need even for a win rate of zero; 1000 % is 10 times."),
        ),
        "pacing_tolerance_bp": (
            gettext("Pacing tolerance (%)"),
            gettext("Flag when closed / quota is below the elapsed share of the period less this."),
        ),
        "commit_excess_bp": (
            gettext("Commit above expected (%)"),
            gettext("Flag when the commit exceeds the expected closed revenue by more than this share."),
        ),
        "commit_shortfall_bp": (
            gettext("Commit below expected (%)"),
            gettext("Flag when the commit is below the expected closed revenue by more than this share."),
        ),
        "slipping_share_bp": (
            gettext("Slipping share (%)"),
            gettext("Flag when more than this share of the pipeline was pushed out of the period."),
        ),
        "slipping_lookback_days": (
            gettext("Slipping lookback (days)"),
            gettext("How far back pushed-out deals count."),
        ),
        "bias_tolerance_bp": (
            gettext("Forecast bias tolerance (%)"),
            gettext("Flag when past commits missed actuals by more than this, either way."),
        ),
        "bias_min_periods": (
            gettext("Bias needs periods"),
            gettext("Judge bias only with at least this many committed past periods."),
        ),
        "trailing_periods": (
            gettext("Trailing periods"),
            gettext("Past periods that give the win rate and the bias."),
        ),
        "movement_lookback_days": (
            gettext("Movement lookback (days)"),
            gettext("Figures are compared with their values this many days back."),
        ),
        "stalled_percentile": (
            gettext("Stalled percentile"),
            gettext("A deal is stalled when its days in stage exceed this percentile of won deals'."),
        ),
        "stalled_min_samples": (
            gettext("Stalled needs samples"),
            gettext("Judge a stage only with at least this many won deals' stays in it."),
        ),
        "large_deal_share_bp": (
            gettext("Large deal share (%)"),
            gettext("A deal is large when its amount exceeds this share of the rep's commit."),
        ),
        "unlikely_max_probability": (
            gettext("Unlikely at or below probability (%)"),
            gettext("A whole percentage, 0 to 100."),
        ),
        "unlikely_max_stage_order": (
            gettext("Unlikely at or below stage position"),
            gettext("Leave empty to judge by probability only."),
        ),
        "pushes_to_flag": (
            gettext("Pushes to flag"),
            gettext("A deal whose close date moved later at least this many times."),
        ),
        "no_change_days": (
            gettext("No change for (days)"),
            gettext("A deal unchanged for at least this many days."),
        ),
        "backward_lookback_days": (
            gettext("Backward moves lookback (days)"),
            gettext("A stage regression or a cut counts this many days back."),
        ),
    }


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule(
        "/admin/inspection", "admin_inspection", require_user(_inspection), methods=["GET", "POST"]
    )


def _read() -> inspection_pb2.InspectionSettings:
    settings: inspection_pb2.InspectionSettings = call(
        INSPECTION.rpc("GetInspectionSettings"), inspection_pb2.GetInspectionSettingsRequest()
    )
    return settings


def _inspection() -> Response:
    stored = _read()
    if request.method == "GET":
        notice = gettext("Inspection thresholds saved.") if request.args.get("done") == "saved" else ""
        return _page(stored, _values_of(stored.thresholds), str(stored.version), {}, notice=notice)
    values = {t.name: request.form.get(t.name, "") for t in THRESHOLDS}
    version = request.form.get("version", "0")
    checked = FormCheck()
    thresholds = _thresholds_of(values, checked)
    if not checked.ok():
        return _page(stored, values, version, checked.errors, status=422)
    try:
        call(
            INSPECTION.rpc("UpdateInspectionSettings"),
            inspection_pb2.UpdateInspectionSettingsRequest(
                settings=inspection_pb2.InspectionSettings(thresholds=thresholds),
                expected_version=int(version) if version.isdigit() else 0,
            ),
        )
    except Problem as problem:
        names = {f"settings.thresholds.{t.name}": t.name for t in THRESHOLDS}
        errors = refused(problem, names)
        if problem.status == 409:
            stored = _read()
            version = str(stored.version)
        return _page(stored, values, version, errors, status=409 if problem.status == 409 else 422)
    return see_other("console.admin_inspection", done="saved")


def _values_of(thresholds: inspection_pb2.InspectionThresholds) -> dict[str, str]:
    values: dict[str, str] = {}
    for threshold in THRESHOLDS:
        if threshold.name == "unlikely_max_stage_order" and not thresholds.HasField(
            "unlikely_max_stage_order"
        ):
            values[threshold.name] = ""
            continue
        number = getattr(thresholds, threshold.name)
        values[threshold.name] = percent_text(number) if threshold.unit == "percent" else str(number)
    return values


def _thresholds_of(values: dict[str, str], checked: FormCheck) -> inspection_pb2.InspectionThresholds:
    thresholds = inspection_pb2.InspectionThresholds()
    for threshold in THRESHOLDS:
        name = threshold.name
        if threshold.unit == "percent":
            number = checked.percent_as_basis_points(name, values[name], _THRESHOLDS, name)
        else:
            number = checked.whole(name, values[name], _THRESHOLDS, name, required=name not in OPTIONAL)
        if number is not None:
            setattr(thresholds, name, number)
    return thresholds


def _page(
    stored: inspection_pb2.InspectionSettings,
    values: dict[str, str],
    version: str,
    errors: dict[str, str],
    *,
    status: int = 200,
    notice: str = "",
) -> Response:
    return page(
        "console/admin_inspection.html",
        status=status,
        title=gettext("Inspection thresholds"),
        stored=stored,
        values=values,
        version=version,
        errors=errors,
        notice=notice,
        thresholds=THRESHOLDS,
        labels=labels(),
    )
