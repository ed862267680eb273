"""Admin / forecast settings: the fiscal year's first month, the range scheme and its ranges (a band
of probabilities and the commit stage it gives an open deal), and which of likely / best / worst
the worksheets show. Saved whole with UpdateForecastSettings at the version it was read at (the
service then recomputes every rollup in the same transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel.dates import get_month_names
from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.forecasting.v1 import settings_pb2
from salesplane_gateway.console.admin_forms import FormCheck, refused, row_names
from salesplane_gateway.console.localisation import current_locale, gettext
from salesplane_gateway.console.pages import call, page, require_user, see_other
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_forecasting import SETTINGS

EMPTY_ROWS = 2
MAX_ROWS = 40
SCHEMES = {
    "two": settings_pb2.RANGE_SCHEME_TWO_BUCKETS,
    "three": settings_pb2.RANGE_SCHEME_THREE_BUCKETS,
    "custom": settings_pb2.RANGE_SCHEME_CUSTOM,
}
STAGES = {
    "include": settings_pb2.COMMIT_STAGE_INCLUDE,
    "upside": settings_pb2.COMMIT_STAGE_UPSIDE,
    "exclude": settings_pb2.COMMIT_STAGE_EXCLUDE,
}
_SETTINGS = settings_pb2.ForecastSettings.DESCRIPTOR
_RANGE = settings_pb2.ForecastRange.DESCRIPTOR
_COLUMNS = {
    "name": "range-name",
    "min_probability": "range-min",
    "max_probability": "range-max",
    "commit_stage": "range-stage",
}
NAMES = {
    "settings.fiscal_year_start_month": "fiscal_year_start_month",
    "settings.range_scheme": "range_scheme",
    "settings.ranges": "ranges",
}
SHOWN = ("fiscal_year_start_month", "range_scheme", "ranges", "show_likely", "show_best", "show_worst")


@dataclass
class RangeRow:
    name: str
    low: str
    high: str
    stage: str

    @property
    def blank(self) -> bool:
        return not (self.name.strip() or self.low.strip() or self.high.strip())


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule(
        "/admin/forecast-settings",
        "admin_forecast_settings",
        require_user(_settings),
        methods=["GET", "POST"],
    )


def _read() -> settings_pb2.ForecastSettings:
    settings: settings_pb2.ForecastSettings = call(
        SETTINGS.rpc("GetForecastSettings"), settings_pb2.GetForecastSettingsRequest()
    )
    return settings


def _settings() -> Response:
    stored = _read()
    if request.method == "GET":
        values = _values_of(stored)
        values["ranges"] = values["ranges"] + [RangeRow("", "", "", "include") for _ in range(EMPTY_ROWS)]
        notice = gettext("Forecast settings saved.") if request.args.get("done") == "saved" else ""
        return _page(stored, values, {}, notice=notice)
    values = _posted()
    checked = FormCheck()
    settings, sent_rows = _settings_of(values, checked)
    if not checked.ok():
        return _page(stored, values, checked.errors, status=422)
    try:
        call(
            SETTINGS.rpc("UpdateForecastSettings"),
            settings_pb2.UpdateForecastSettingsRequest(
                settings=settings,
                expected_version=int(values["version"]) if values["version"].isdigit() else 0,
            ),
        )
    except Problem as problem:
        names = {**NAMES, **row_names(problem, "settings.ranges", sent_rows, _COLUMNS)}
        errors = refused(problem, names, shown=SHOWN)
        if problem.status == 409:
            # Saving again replaces their version: from now on, the form is based on it.
            stored = _read()
            values["version"] = str(stored.version)
        return _page(stored, values, errors, status=409 if problem.status == 409 else 422)
    return see_other("console.admin_forecast_settings", done="saved")


def _values_of(stored: settings_pb2.ForecastSettings) -> dict[str, Any]:
    stage_names = {value: name for name, value in STAGES.items()}
    scheme_names = {value: name for name, value in SCHEMES.items()}
    return {
        "fiscal_year_start_month": str(stored.fiscal_year_start_month or 1),
        "range_scheme": scheme_names.get(stored.range_scheme, "three"),
        "ranges": [
            RangeRow(
                r.name, str(r.min_probability), str(r.max_probability), stage_names.get(r.commit_stage, "")
            )
            for r in stored.ranges
        ],
        "show_likely": stored.show_likely,
        "show_best": stored.show_best,
        "show_worst": stored.show_worst,
        "version": str(stored.version),
    }


def _posted() -> dict[str, Any]:
    form = request.form
    count = min(int(form["rows"]), MAX_ROWS) if form.get("rows", "").isdigit() else 0
    return {
        "fiscal_year_start_month": form.get("fiscal_year_start_month", ""),
        "range_scheme": form.get("range_scheme", ""),
        "ranges": [
            RangeRow(
                form.get(f"range-name-{i}", ""),
                form.get(f"range-min-{i}", ""),
                form.get(f"range-max-{i}", ""),
                form.get(f"range-stage-{i}", ""),
            )
            for i in range(count)
        ],
        "show_likely": form.get("show_likely") == "on",
        "show_best": form.get("show_best") == "on",
        "show_worst": form.get("show_worst") == "on",
        "version": form.get("version", "0"),
    }


def _settings_of(
    values: dict[str, Any], checked: FormCheck
) -> tuple[settings_pb2.ForecastSettings, list[int]]:
    month = checked.whole(
        "fiscal_year_start_month", values["fiscal_year_start_month"], _SETTINGS, "fiscal_year_start_month"
    )
    if values["range_scheme"] not in SCHEMES:
        checked.fail("range_scheme", gettext("Choose a range scheme from the list."))
    ranges: list[settings_pb2.ForecastRange] = []
    sent_rows: list[int] = []
    for index, row in enumerate(values["ranges"]):
        if row.blank:
            continue
        if row.stage not in STAGES:
            checked.fail(f"range-stage-{index}", gettext("Choose include, upside or exclude."))
        low = checked.whole(f"range-min-{index}", row.low, _RANGE, "min_probability")
        high = checked.whole(f"range-max-{index}", row.high, _RANGE, "max_probability")
        if low is not None and high is not None and low > high:
            checked.fail(f"range-max-{index}", gettext("Enter at least the minimum (%(low)s).", low=low))
        ranges.append(
            settings_pb2.ForecastRange(
                name=checked.text(f"range-name-{index}", row.name, _RANGE, "name", required=True),
                min_probability=low or 0,
                max_probability=high or 0,
                commit_stage=STAGES.get(row.stage, settings_pb2.COMMIT_STAGE_UNSPECIFIED),
            )
        )
        sent_rows.append(index)
    if not ranges:
        checked.fail("ranges", gettext("Give the ranges that cover every probability from 0 to 100."))
    settings = settings_pb2.ForecastSettings(
        fiscal_year_start_month=month or 0,
        range_scheme=SCHEMES.get(values["range_scheme"], settings_pb2.RANGE_SCHEME_UNSPECIFIED),
        ranges=ranges,
        show_likely=values["show_likely"],
        show_best=values["show_best"],
        show_worst=values["show_worst"],
    )
    return settings, sent_rows


def _page(
    stored: settings_pb2.ForecastSettings,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status: int = 200,
    notice: str = "",
) -> Response:
    months = get_month_names("wide", context="stand-alone", locale=current_locale().babel)
    return page(
        "console/admin_forecast_settings.html",
        status=status,
        title=gettext("Forecast settings"),
        stored=stored,
        values=values,
        errors=errors,
        notice=notice,
        months=[(str(number), months[number]) for number in range(1, 13)],
        schemes=[
            ("two", gettext("Two buckets: include / exclude")),
            ("three", gettext("Three buckets: include / upside / exclude")),
            ("custom", gettext("Custom named ranges")),
        ],
        stages=[
            ("include", gettext("Include")),
            ("upside", gettext("Upside")),
            ("exclude", gettext("Exclude")),
        ],
    )
