"""The game-day report: one self-contained HTML page (inline CSS and SVG, no external assets).

What it shows follows the union of game-day report templates in research §3.2 and the tools'
run views (Steadybit's replica-count widget and run log, Litmus / Chaos Mesh annotations on
panels, AWS FIS's experiment report): a header (lab, team, seed, window), the hypothesis and
whether it held with the score and its band, the annotated timeline (each injection a marked
vertical line across four panels: replicas, error rate against the error budget, p99 TTFT against
the SLO line, the error budget burning down), the recovery of each injection, and the run log
(Time | Action | Observed | SLO held?). It is drawn from the record (``slolab.gameday.record``),
so a record renders the same page again.

A run its stop condition halted (``slolab.gameday.stop``) gets what AWS FIS's experiment view
shows of a stopped experiment: a banner under the hypothesis saying when and why the chaos
stopped and that the rest of the plan did not run, a solid marker at that time on every timeline
panel (distinct from the dashed injection lines), and the ``stop`` line in the run log.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slolab.gameday import record, stop

#: Drawing geometry, in SVG user units.
WIDTH, PANEL_H, LEFT, RIGHT, TOP, GAP = 960, 130, 64, 16, 28, 30
COLORS = {
    "pod-kill": "#c0392b",
    "network-delay": "#8e44ad",
    "drain": "#d35400",
    "node-down": "#2c3e50",
    "line": "#2471a3",
    "line2": "#7fb3d5",
    "slo": "#e67e22",
    "bad": "#fadbd8",
    "stop": "#111111",
}
#: The timeline's panels, top to bottom (``timeline_svg``).
PANELS = 4
CSS = (
    "body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 8px}"
    ".meta{color:#555}.verdict{padding:10px 14px;border-radius:6px;margin:12px 0;font-weight:600}"
    ".held{background:#e8f6ec;border:1px solid #58b26b}.broken{background:#fdecea;border:1px solid #d9534f}"
    ".stopped{background:#fff4e0;border:2px solid #111}"
    "table{border-collapse:collapse;width:100%}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;"
    "vertical-align:top}th{background:#f4f4f4}td.ok{color:#1e7b34}td.no{color:#b02a1f;font-weight:600}"
    ".kpi{display:inline-block;margin:0 22px 6px 0}.kpi b{display:block;font-size:20px}"
    "svg text{font:11px system-ui,sans-serif;fill:#333}"
)


def _x(t_s: float, duration_s: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * max(0.0, min(t_s, duration_s)) / duration_s


def _panel(
    index: int,
    title: str,
    duration_s: float,
    lines: Sequence[tuple[str, list[tuple[float, float]], bool]],
    y_max: float,
    unit: str,
    slo: float | None = None,
    bad: Sequence[tuple[float, float]] = (),
) -> str:
    """One panel: step or point lines ``(colour, points, step)``, an optional SLO line, shaded spans."""
    top = TOP + index * (PANEL_H + GAP)
    bottom = top + PANEL_H
    y_max = y_max if y_max > 0 else 1.0

    def y(v: float) -> float:
        return bottom - PANEL_H * max(0.0, min(v, y_max)) / y_max

    out = [f'<g class="panel" data-panel="{html.escape(title)}">']
    for start, end in bad:
        out.append(
            f'<rect x="{_x(start, duration_s):.1f}" y="{top}" '
            f'width="{_x(end, duration_s) - _x(start, duration_s):.1f}" '
            f'height="{PANEL_H}" fill="{COLORS["bad"]}"/>'
        )
    out.append(
        f'<rect x="{LEFT}" y="{top}" width="{WIDTH - LEFT - RIGHT}" height="{PANEL_H}" '
        'fill="none" stroke="#999"/>'
    )
    out.append(f'<text x="{LEFT}" y="{top - 6}" font-weight="600">{html.escape(title)}</text>')
    for frac in (0.0, 0.5, 1.0):
        v = y_max * frac
        out.append(f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.3g}{unit}</text>')
    if slo is not None:
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(slo):.1f}" y2="{y(slo):.1f}" '
            f'stroke="{COLORS["slo"]}" '
            f'stroke-dasharray="6 3" stroke-width="1.5"/>'
            f'<text x="{WIDTH - RIGHT - 4}" y="{y(slo) - 4:.1f}" text-anchor="end" '
            f'fill="{COLORS["slo"]}">SLO</text>'
        )
    for colour, points, step in lines:
        if not points:
            continue
        coords: list[str] = []
        for i, (t, v) in enumerate(points):
            if step and i:
                coords.append(f"{_x(t, duration_s):.1f},{y(points[i - 1][1]):.1f}")
            coords.append(f"{_x(t, duration_s):.1f},{y(v):.1f}")
        if step:
            coords.append(f"{_x(duration_s, duration_s):.1f},{y(points[-1][1]):.1f}")
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{" ".join(coords)}"/>'
        )
    out.append("</g>")
    return "".join(out)


def timeline_svg(data: dict[str, Any]) -> str:
    """The annotated timeline of a record: four panels, each injection marked across all."""
    duration = float(data["duration_s"])
    wins = data["windows"]
    width = wins[1]["start_s"] - wins[0]["start_s"] if len(wins) > 1 else duration
    mid = [w["start_s"] + width / 2 for w in wins]
    bad = [(w["start_s"], w["start_s"] + width) for w in wins if not w["within_slo"]]
    series = data.get("series", {})
    pods = [(t, v) for t, v in series.get("pods", [])]
    ready = [(t, v) for t, v in series.get("ready_pods", [])]
    replicas_max = max([v for _, v in pods + ready] + [1.0]) + 1
    err = [
        (m, min(100.0, 100.0 * w["failed"] / w["requests"]) if w["requests"] else 0.0)
        for m, w in zip(mid, wins, strict=True)
    ]
    budget_pct = 100.0 - data["slo"]["availability_pct"]
    ttft = [(m, w["ttft_p99_s"]) for m, w in zip(mid, wins, strict=True) if w["ttft_p99_s"] is not None]
    slo_ttft = data["slo"]["ttft_p99_s"]
    left = [(t, v) for t, v in data["budget_left_pct"]]
    panels = [
        _panel(
            0,
            "Replicas: pods (light) and ready pods",
            duration,
            [(COLORS["line2"], pods, True), (COLORS["line"], ready, True)],
            replicas_max,
            "",
        ),
        _panel(
            1,
            f"Error rate per {width:g} s window (SLO: ≤ {budget_pct:.2g} %)",
            duration,
            [(COLORS["line"], err, False)],
            max([v for _, v in err] + [budget_pct * 2]),
            " %",
            budget_pct,
            bad,
        ),
        _panel(
            2,
            f"p99 TTFT per {width:g} s window (SLO: ≤ {slo_ttft:g} s)",
            duration,
            [(COLORS["line"], ttft, False)],
            max([v for _, v in ttft] + [slo_ttft * 1.5]),
            " s",
            slo_ttft,
            bad,
        ),
        _panel(3, "Error budget left", duration, [(COLORS["line"], left, False)], 100.0, " %", 0.0),
    ]
    height = TOP + PANELS * (PANEL_H + GAP) + 10
    marks = []
    for n, inj in enumerate(data["injections"]):
        x = _x(inj["at_s"], duration)
        colour = COLORS.get(inj["action"], "#555")
        marks.append(
            f'<g class="injection" data-action="{html.escape(inj["action"])}">'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 4}" y2="{height - GAP}" stroke="{colour}" '
            'stroke-width="1.2" '
            f'stroke-dasharray="3 2"/><text x="{x + 3:.1f}" y="{TOP + 10 + (n % 3) * 11}" fill="{colour}">'
            f"{html.escape(inj['action'])}</text>"
            f"<title>{html.escape(_clock(inj['at_s']))} {html.escape(inj['detail'])}</title></g>"
        )
    marks.extend(_stop_marks(data, duration))
    axis = []
    step = 300 if duration > 1800 else 120 if duration > 600 else 60
    for t in range(0, int(duration) + 1, step):
        axis.append(
            f'<text x="{_x(t, duration):.1f}" y="{height - GAP + 14}" '
            f'text-anchor="middle">{t // 60} min</text>'
        )
    return (
        f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="game-day timeline">'
        '<rect width="100%" height="100%" fill="#fff"/>'
        + "".join(panels)
        + "".join(marks)
        + "".join(axis)
        + "</svg>"
    )


def _stop_marks(data: dict[str, Any], duration_s: float) -> list[str]:
    """A solid marker at the stop on every panel (none when the run was not stopped)."""
    at = record.stopped_at_s(data)
    if at is None:
        return []
    x = _x(at, duration_s)
    why = f"{_clock(at)} stop condition: {data.get('stop_reason') or 'tripped'}; chaos halted, rolled back"
    out = []
    for index in range(PANELS):
        top = TOP + index * (PANEL_H + GAP)
        out.append(
            f'<g class="stop" data-panel="{index}"><line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" '
            f'y2="{top + PANEL_H}" stroke="{COLORS["stop"]}" stroke-width="3"/>'
            f'<text x="{x - 3:.1f}" y="{top + PANEL_H - 4}" text-anchor="end" font-weight="700" '
            f'fill="{COLORS["stop"]}">STOP</text><title>{html.escape(why)}</title></g>'
        )
    return out


def stop_banner(data: dict[str, Any]) -> str | None:
    """ "Stopped at T+19:45: the stop condition (error budget burned ≥ 100 %) halted the chaos; the
    rest of the plan did not run", or None for a run that was not stopped."""
    at = record.stopped_at_s(data)
    if at is None:
        return None
    threshold = data.get("stop_burn_pct")
    condition = (
        stop.condition_text(float(threshold)) if threshold is not None else data.get("stop_reason") or "?"
    )
    return (
        f"Stopped at {_clock(at)}: the stop condition ({condition}) halted the chaos; "
        "the rest of the plan did not run"
    )


def _clock(t_s: float) -> str:
    t = round(t_s)
    return f"T+{t // 60:02d}:{t % 60:02d}"


def _held_at(data: dict[str, Any], t_s: float) -> bool:
    wins = data["windows"]
    inside = [w for w in wins if w["start_s"] <= t_s] or wins[:1]
    return bool(inside[-1]["within_slo"]) if inside else True


def log_rows(data: dict[str, Any]) -> list[tuple[str, str, str, str, bool]]:
    """(time, action, target, observed, SLO held) for each line of the run log; an injection's
    "observed" says how it recovered, its "held" whether the SLO held through it."""
    by_time = {(i["at_s"], i["action"]): i for i in data["injections"]}
    rows = []
    for line in data["log"]:
        inj = by_time.get((line["at_s"], line["action"]))
        observed = line["detail"]
        if inj is not None:
            rec = (
                "not recovered before the next injection"
                if inj["recovered_s"] is None
                else (
                    "SLO held throughout"
                    if inj["slo_held"]
                    else f"back within SLO after {inj['recovered_s']:.0f} s"
                )
            )
            ttft = "–" if inj["peak_ttft_p99_s"] is None else f"{inj['peak_ttft_p99_s']:.2f} s"
            peak = f"peak error rate {100 * inj['peak_error_rate']:.2f} %, peak p99 TTFT {ttft}"
            observed = f"{observed}; {peak}; {rec}"
            held = bool(inj["slo_held"])
        else:
            held = _held_at(data, line["at_s"])
        rows.append((_clock(line["at_s"]), line["action"], line["target"], observed, held))
    return rows


def page(data: dict[str, Any]) -> str:
    """The whole report page for a record."""
    s, hyp = data["score"], data["hypothesis"]
    e = html.escape
    ttft = "–" if s["ttft_p99_s"] is None else f"{s['ttft_p99_s']:.2f} s"
    kpis = [
        ("error budget left", f"{s['budget_remaining_pct']:.1f} % ({s['band']})"),
        ("budget burned", f"{s['budget_burned_pct']:.1f} %"),
        ("availability", f"{s['availability_pct']:.3f} % (SLO ≥ {data['slo']['availability_pct']:g} %)"),
        ("p99 TTFT", f"{ttft} (SLO ≤ {data['slo']['ttft_p99_s']:g} s)"),
        ("requests", f"{s['requests']} ({s['failed']} failed)"),
        ("time recovering", f"{s['recovery_total_s']:.0f} s"),
    ]
    rows = "".join(
        f"<tr><td>{e(t)}</td><td>{e(a)}</td><td>{e(target)}</td><td>{e(obs)}</td>"
        f'<td class="{"ok" if held else "no"}">{"yes" if held else "no"}</td></tr>'
        for t, a, target, obs, held in log_rows(data)
    )
    held = hyp["held"]
    banner = stop_banner(data)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Game day {e(data['lab'])} · team {e(data['team'])} · seed {data['seed']}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>Game day: {e(data['lab'])}</h1>"
        f'<p class="meta">team <b>{e(data["team"])}</b> · scenario {e(data["scenario"])} · '
        f"seed {data['seed']} · "
        f"{data['duration_s'] / 60:g} min of {e(data['profile'])} load on {e(data['backend'])} · manifests: "
        f"{e(data['manifests_from'])}</p>"
        f"<h2>Hypothesis</h2><p>{e(hyp['text'])}</p>"
        + (f'<div id="stopped" class="verdict stopped">{e(banner)}.</div>' if banner else "")
        + f'<div id="verdict" class="verdict {"held" if held else "broken"}">Hypothesis '
        f"{'held' if held else 'did not hold'}: {s['budget_remaining_pct']:.1f} % of the error budget left "
        f"({e(s['band'])}).</div>"
        + "".join(f'<span class="kpi">{e(k)}<b>{e(v)}</b></span>' for k, v in kpis)
        + f"<h2>Timeline</h2>{timeline_svg(data)}"
        '<h2>Run log</h2><table id="log"><thead><tr><th>Time</th><th>Action</th><th>Target</th>'
        f"<th>Observed</th><th>SLO held?</th></tr></thead><tbody>{rows}</tbody></table>"
        "</body></html>\n"
    )


def write(data: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(data), encoding="utf-8")
    return out
