"""The home page's progress chart: horizontal bars (closed won, forecast, pipeline) against a
quota line, as inline SVG built server-side. Every bar's amount is also written as text, and the
figure has a title, so the chart reads without colour or a mouse."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from salesplane.common.v1.common_pb2 import Money
from salesplane_gateway.console.localisation import gettext, money

WIDTH, BAR, GAP, LABEL = 640, 26, 12, 130
# Dark enough on white for WCAG AA (4.5:1) as text, and distinct without colour (the labels say).
FILLS = ("#1b5e20", "#0d47a1", "#5d4037")


def progress_chart(*, quota: Money, bars: Sequence[tuple[str, Money]], title: str) -> Markup:
    currency = quota.currency_code or next((m.currency_code for _, m in bars if m.currency_code), "")
    scale_top = max([quota.amount_minor, *(m.amount_minor for _, m in bars), 1])
    room = WIDTH - LABEL - 10
    height = len(bars) * (BAR + GAP) + GAP + 18
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="chart-title" class="chart">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    for index, (label, amount) in enumerate(bars):
        y = GAP + index * (BAR + GAP)
        width = max(0.0, room * amount.amount_minor / scale_top)
        fill = FILLS[index % len(FILLS)]
        parts.append(
            f'<text x="0" y="{y + BAR * 0.68:.1f}" font-size="14" fill="#1a1a1a">{escape(label)}</text>'
            f'<rect x="{LABEL}" y="{y}" width="{width:.1f}" height="{BAR}" fill="{fill}"/>'
            f'<text x="{LABEL + 6 + (width if width < room * 0.6 else 0):.1f}" y="{y + BAR * 0.68:.1f}" '
            f'font-size="13" fill="{"#1a1a1a" if width < room * 0.6 else "#ffffff"}">'
            f"{escape(money(amount.amount_minor, amount.currency_code or currency))}</text>"
        )
    if quota.amount_minor > 0:
        x = LABEL + room * quota.amount_minor / scale_top
        quota_text = gettext("Quota %(amount)s", amount=money(quota.amount_minor, currency))
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="4" y2="{height - 16}" stroke="#b71c1c" stroke-width="3"/>'
            f'<text x="{min(x, WIDTH - 150):.1f}" y="{height - 2}" font-size="13" fill="#b71c1c">'
            f"{escape(quota_text)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
