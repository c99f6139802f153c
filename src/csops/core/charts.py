"""Server-rendered SVG charts (Vega-Lite through vl-convert): no JavaScript, no CDN, CSP-safe."""

from __future__ import annotations

from typing import Any

import altair as alt
import vl_convert

COLORS = {"green": "#1f7a3d", "yellow": "#b58100", "red": "#b3261e"}


def render(chart: alt.TopLevelMixin) -> str:
    return vl_convert.vegalite_to_svg(chart.to_dict())


def score_trend(points: list[dict[str, Any]], *, title: str = "") -> str:
    """A 0-100 score over time, points coloured by their health colour, with the band edges."""
    data = alt.Data(values=[{**p, "date": p["date"].isoformat()} for p in points])
    base = alt.Chart(data).encode(
        x=alt.X("date:T", title=None, axis=alt.Axis(format="%d %b %y", tickCount=6, labelAngle=0))
    )
    line = base.mark_line(color="#5b6475").encode(
        y=alt.Y("score:Q", scale=alt.Scale(domain=[0, 100]), title="Score")
    )
    dots = base.mark_circle(size=60).encode(
        y="score:Q",
        color=alt.Color(
            "color:N", scale=alt.Scale(domain=list(COLORS), range=list(COLORS.values())), legend=None
        ),
        tooltip=["date:T", "score:Q"],
    )
    bands = (
        alt.Chart(alt.Data(values=[{"y": 75}, {"y": 50}]))
        .mark_rule(strokeDash=[4, 4], color="#aab1bf")
        .encode(y="y:Q")
    )
    return render((bands + line + dots).properties(width=520, height=150, title=title))


def bars(
    rows: list[dict[str, Any]],
    *,
    x: str,
    y: str,
    color: str | None = None,
    title: str = "",
    x_title: str | None = None,
    y_title: str | None = None,
    stack_order: list[str] | None = None,
) -> str:
    """Horizontal or stacked bars from a list of records."""
    encoding: dict[str, Any] = {
        "x": alt.X(f"{x}:Q", title=x_title),
        "y": alt.Y(f"{y}:N", title=y_title, sort=None),
    }
    if color:
        domain = stack_order or list(COLORS)
        encoding["color"] = alt.Color(
            f"{color}:N",
            scale=alt.Scale(domain=domain, range=[COLORS.get(d, "#7a8599") for d in domain]),
            legend=alt.Legend(title=None),
        )
    chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(**encoding)
    return render(chart.properties(width=480, title=title))


def lines(rows: list[dict[str, Any]], *, x: str, y: str, color: str, title: str = "") -> str:
    """A few series over dates, one line each."""
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{x}:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0)),
            y=alt.Y(f"{y}:Q", title=None),
            color=alt.Color(f"{color}:N", legend=alt.Legend(title=None, orient="bottom")),
        )
    )
    return render(chart.properties(width=560, height=180, title=title))


def bridge(steps: list[tuple[str, float, str]], *, title: str = "", x_title: str | None = None) -> str:
    """Horizontal bars, one per (label, value, colour name), in order: e.g. an ARR bridge from the
    starting figure through its movements to the ending one."""
    labels = [label for label, _, _ in steps]
    chart = (
        alt.Chart(alt.Data(values=[{"step": label, "value": float(value)} for label, value, _ in steps]))
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title=x_title),
            y=alt.Y("step:N", title=None, sort=labels),
            color=alt.Color(
                "step:N",
                scale=alt.Scale(domain=labels, range=[COLORS.get(c, "#7a8599") for _, _, c in steps]),
                legend=None,
            ),
        )
    )
    return render(chart.properties(width=480, title=title))
