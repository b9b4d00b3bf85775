"""`report.html`: one self-contained page per suite (every figure inlined as a data: URI, no server, no network):
heatmaps, δ-curves, image grids, the tables of leaderboard.md, per-concept details and the run provenance."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

from tabulate import tabulate

from vwbench.report.render import Section

STYLE = """
body{font-family:system-ui,'DejaVu Sans',sans-serif;margin:0;color:#222;line-height:1.45}
main{max-width:1400px;margin:0 auto;padding:1.5em 2em}
nav{background:#f4f6f8;border-bottom:1px solid #dde;padding:.6em 2em;position:sticky;top:0;z-index:1}
nav a{margin-right:1.2em;text-decoration:none;color:#245}
h1{font-size:1.6em}h2{font-size:1.3em;border-bottom:1px solid #dde;padding-bottom:.2em;margin-top:1.8em}
h3{font-size:1.1em}p.note{color:#444;max-width:70em;font-size:.92em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.82em}
td,th{border:1px solid #ccd;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f0f2f5}
tr:nth-child(even) td{background:#fafbfc}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}code{background:#f2f2f2;padding:0 .25em;border-radius:3px}
details{margin:.5em 0}summary{cursor:pointer;color:#245}.wide{overflow-x:auto}
"""


def inline(text: str) -> str:
    """Escape text for HTML and render its Markdown code spans (`x`) as <code> (the notes use no other markup)."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def data_uri(path: Path) -> str:
    kind = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}[path.suffix]
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _table(s: Section) -> str:
    if not s.rows:
        return ""
    return (
        '<div class="wide">'
        + tabulate(s.rows, headers=s.headers, tablefmt="unsafehtml", disable_numparse=True)
        + "</div>"
    )


def _escaped(s: Section) -> Section:
    rows = [[html.escape(str(c)) for c in r] for r in s.rows]
    return Section(s.title, s.note, [html.escape(h) for h in s.headers], rows, s.image, s.level)


def section_html(s: Section, out: Path, collapsed: bool = False) -> str:
    s = _escaped(s)
    parts = [f'<h{s.level} id="{_slug(s.title)}">{html.escape(s.title)}</h{s.level}>']
    body = []
    if s.note:
        body.append(f'<p class="note">{inline(s.note)}</p>')
    if s.image and (out / s.image).is_file():
        body.append(f'<figure><img src="{data_uri(out / s.image)}" alt="{html.escape(s.title)}"></figure>')
    body.append(_table(s))
    if collapsed:
        return parts[0] + f"<details><summary>table</summary>{''.join(body)}</details>"
    return "".join(parts + body)


def figure(out: Path, name: str, caption: str) -> str:
    return (
        f'<figure><img src="{data_uri(out / name)}" alt="{html.escape(caption)}">'
        f"<figcaption>{inline(caption)}</figcaption></figure>"
    )


def provenance_html(prov: dict | None) -> str:
    if not prov:
        return "<p>No provenance recorded.</p>"
    rows = []
    for k in sorted(prov):
        v = prov[k]
        text = v if isinstance(v, str) else json.dumps(v, indent=1, sort_keys=True, ensure_ascii=False)
        cell = f"<pre>{html.escape(text)}</pre>" if "\n" in text else html.escape(str(text))
        rows.append(f"<tr><th>{html.escape(k)}</th><td>{cell}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


ANALYSES = {
    "truncation": "Text-encoder truncation (`vwbench analyze truncation`): score against the number of "
    "blocks kept, and one concept's generations at each.",
    "layers": "Per-layer pooled token (`vwbench analyze layers`): probe accuracy by block in every text "
    "tower, and t-SNE at four blocks.",
}


def analyses_html(folder: Path | None) -> str:
    """The figures `vwbench analyze` left under STORE/analysis/SUITE/, if any (docs/report.md)."""
    if folder is None or not folder.is_dir():
        return ""
    parts = []
    for name, caption in ANALYSES.items():
        pngs = sorted((folder / name).glob("*.png")) if (folder / name).is_dir() else []
        if pngs:
            parts.append(
                f"<h3>{html.escape(name)}</h3>"
                + "".join(figure(p.parent, p.name, caption if i == 0 else p.stem) for i, p in enumerate(pngs))
            )
    return '<h2 id="analyses">Analyses</h2>' + "".join(parts) if parts else ""


def report_page(
    suite: str,
    doc: dict,
    sections: dict[str, list[Section]],
    figures: dict[str, dict[str, str]],
    out: Path,
    analyses: Path | None = None,
) -> str:
    """The page: `sections` are render.py's sections grouped as intro/matrix/method/delta/snap/concept;
    `figures` {dataset: {heatmap|delta|generation|detection: file name in out}}; `analyses` the folder of
    `vwbench analyze` outputs for this suite."""
    datasets = doc["datasets"]
    nav = ['<a href="#overview">overview</a>', '<a href="#method-leaderboard">methods</a>']
    nav += [f'<a href="#{_slug(ds)}">{html.escape(ds)}</a>' for ds in datasets]
    nav += ['<a href="#per-concept">per concept</a>', '<a href="#provenance">provenance</a>']
    body = [f'<h1 id="overview">vwbench report: {html.escape(suite)}</h1>']
    intro = sections["intro"][0]
    body.append(f'<p class="note">{inline(intro.note)}</p>')
    body += [section_html(s, out) for s in sections["method"]]
    for ds in datasets:
        figs = figures.get(ds, {})
        body.append(f'<h2 id="{_slug(ds)}">Dataset {html.escape(ds)}</h2>')
        if "heatmap" in figs:
            body.append(
                figure(
                    out,
                    figs["heatmap"],
                    "Transfer matrix of unconstrained words per method: diagonal "
                    "in-domain, off-diagonal transferred; mean, [95% CI over concepts], n trials.",
                )
            )
        body += [section_html(s, out) for s in sections["matrix"] if s.title == f"Controls: {ds}"]
        body += [
            section_html(Section(s.title, s.note, s.headers, s.rows, None, 3), out, collapsed=True)
            for s in sections["matrix"]
            if s.title.startswith(f"Transfer matrix: {ds}, ")
        ]
        for s in sections["delta"]:
            if s.title == f"δ-curves: {ds}":
                body.append(section_html(Section(s.title, s.note, s.headers, s.rows, None, 3), out, collapsed=True))
                if "delta" in figs:
                    body.append(
                        figure(
                            out,
                            figs["delta"],
                            "Score against δ: 0 is the untrained anchor word, "
                            "`free` the unconstrained word; dashed grey: controls; dotted: chance.",
                        )
                    )
        grids = [k for k in figs if k.startswith(("generation", "detection"))]
        for key in sorted(grids, key=lambda k: (not k.startswith("generation"), k)):  # generations first
            named = f" ({html.escape(key.split(': ', 1)[1])})" if ": " in key else ""
            if key.startswith("generation"):
                title = f"Generations: {html.escape(ds)}{named}"
                caption = (
                    "Per concept: training images, then the images its "
                    "anchor word, learned word and transferred words generated when they were scored."
                )
            else:
                title = f"Detections: {html.escape(ds)}{named}"
                caption = (
                    "Top detections (red, with scores) of each word on "
                    "held-out images of its concept, target boxes green."
                )
            body.append(f"<h3>{title}</h3>")
            body.append(figure(out, figs[key], caption))
    body += [section_html(s, out) for s in sections["snap"]]
    body.append('<h2 id="per-concept">Per concept</h2>')
    for s in sections["concept"]:
        body.append(
            f"<details><summary>{html.escape(s.title)} ({len(s.rows)} trials)</summary>"
            + section_html(s, out)
            + "</details>"
        )
    extra = analyses_html(analyses)
    if extra:
        body.append(extra)
        nav.insert(-1, '<a href="#analyses">analyses</a>')
    body.append('<h2 id="provenance">Run provenance</h2>' + provenance_html(doc.get("provenance")))
    if doc.get("filters"):
        body.append(f"<p>Filtered run: <code>{html.escape(json.dumps(doc['filters'], sort_keys=True))}</code></p>")
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>vwbench report: {html.escape(suite)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<nav>{''.join(nav)}</nav>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


def html_page(sections: list[Section], report: str | None = None) -> str:
    """The tables as a plain page (notes' `code` spans rendered); `report`: a link to the full report page."""
    title = html.escape(sections[0].title) if sections else "vwbench leaderboard"
    body = []
    for s in sections:
        body.append(f"<h{s.level}>{html.escape(s.title)}</h{s.level}>")
        if s.note:
            body.append(f"<p>{inline(s.note)}</p>")
        if s.rows:
            body.append(tabulate(s.rows, headers=s.headers, tablefmt="html", disable_numparse=True))
        if s.image:
            body.append(f'<p><img src="{html.escape(s.image)}" alt="{html.escape(s.title)}"></p>')
    if report:
        body.insert(
            1, f'<p>Figures, image grids and provenance: <a href="{html.escape(report)}">{html.escape(report)}</a></p>'
        )
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;font-size:90%}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<style>{style}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )
