"""report.html: self-contained (every image a data: URI), no literal backticks, and it renders in a real
headless Chromium with every image loaded and no console errors."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pytest

from vwbench.report import build_leaderboard
from vwbench.store import Store

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)
PROBE = """<script>
window.__errors = [];
const _error = console.error;
console.error = (...a) => { window.__errors.push(a.join(' ')); _error(...a); };
window.addEventListener('error', e => window.__errors.push('error: ' + (e.message || e.target.src || '?')), true);
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const out = {images: imgs.length, broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
               errors: window.__errors, title: document.title};
  const pre = document.createElement('pre'); pre.id = 'vwbench-probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def visible_text(page: str) -> str:
    page = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_report_is_self_contained_and_readable(mini_run):
    _, _, lb = mini_run
    page = (lb / "report.html").read_text()
    srcs = re.findall(r'<img src="([^"]+)"', page)
    # heatmap, δ-curves, generation grid, detection grid of the one dataset
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    for must in (
        "Method leaderboard",
        "Controls: tiny-objects",
        "Run provenance",
        "Per concept: tiny-objects",
        "δ-curves: tiny-objects",
        "Generations: tiny-objects",
        "Detections: tiny-objects",
    ):
        assert must in page, must
    assert "`" not in visible_text(page)  # code spans are rendered, not printed
    assert "<code>anchor, untrained</code>" in page
    assert "`" not in visible_text((lb / "leaderboard.html").read_text())


def test_report_rebuild_is_byte_identical(mini_run, tmp_path):
    _, store_root, lb = mini_run
    with Store(store_root, readonly=True) as store:
        build_leaderboard(store, "minirep", tmp_path / "again")
    names = sorted(p.name for p in lb.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again").iterdir())
    assert {
        "report.html",
        "matrix-tiny-objects.svg",
        "delta-tiny-objects.svg",
        "grid-tiny-objects.png",
        "detections-tiny-objects.png",
    } <= set(names)
    for name in names:
        assert (lb / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install -y chromium; .ci/run installs it)"
)
def test_report_renders_in_headless_chromium(mini_run, tmp_path):
    _, _, lb = mini_run
    page = (lb / "report.html").read_text().replace("<head>", "<head>\n" + PROBE, 1)
    probe = tmp_path / "report.html"
    probe.write_text(page)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probe.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    found = re.search(r'<pre id="vwbench-probe">(.*?)</pre>', done.stdout, flags=re.DOTALL)
    assert found, f"chromium rendered no probe result (rc {done.returncode}): {done.stderr[-2000:]}"
    result = json.loads(html.unescape(found.group(1)))
    assert result["title"] == "vwbench report: minirep"
    assert result["images"] == 4 and result["broken"] == [] and result["errors"] == []


def test_report_shows_the_analyses_in_the_store(tmp_path):
    from PIL import Image

    from vwbench.records import Score, Trial

    store_root = tmp_path / "store"
    with Store(store_root) as store:
        for ev, v in (("generation", 0.5), ("detection", 0.4)):
            t = Trial("s", "d", "c", "a", ev, None, 0)
            store.put_score(store.key("score", ev=ev), Score(t, ev, "in_domain", "ap50", v, {}))
        build_leaderboard(store, "s", tmp_path / "a")
        assert 'id="analyses"' not in (tmp_path / "a" / "report.html").read_text()
        folder = store_root / "analysis" / "s" / "truncation"
        folder.mkdir(parents=True)
        Image.new("RGB", (20, 10), (255, 0, 0)).save(folder / "truncation-d.png")
        build_leaderboard(store, "s", tmp_path / "b")
    page = (tmp_path / "b" / "report.html").read_text()
    assert 'id="analyses"' in page and '<a href="#analyses">' in page and "<h3>truncation</h3>" in page
    from vwbench.report.html_report import data_uri

    assert data_uri(folder / "truncation-d.png") in page
