"""The documentation in docs/: it builds with warnings as errors, and its examples run.

Every ```pycon block of a page is a doctest; the blocks of one page share their names, in
order, so a page's worked examples are checked against the package as it is.
"""

from __future__ import annotations

import base64
import doctest
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import paperbroker as pb

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts and "notebooks" not in p.parts)
PYCON = re.compile(r"^```pycon\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXAMPLE_PAGES = [p for p in PAGES if PYCON.search(p.read_text(encoding="utf-8"))]


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} not installed; the test extra includes the docs extra")
        pytest.skip(f"needs {', '.join(missing)} (pip install -e '.[docs]')")


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require("sphinx", "myst_nb", "furo")
    out = tmp_path_factory.mktemp("docs")
    command = ["-W", "--keep-going", "-q", "-b", "html", "-d", out / "doctrees", DOCS, out / "html"]
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", *map(str, command)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"sphinx-build failed or warned:\n{result.stderr}\n{result.stdout}"
    return out / "html"


def test_docs_build_without_warnings(html: Path) -> None:
    for page in ("index", "getting-started", "concepts/accounting", "api", "benchmarks"):
        assert (html / f"{page}.html").is_file(), page


def test_every_notebook_is_rendered_with_its_outputs(html: Path) -> None:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        page = html / "notebooks" / f"{notebook.stem}.html"
        assert page.is_file(), f"{notebook.name} is not in the docs"
        if notebook.stem.endswith("-student"):  # no outputs on purpose: they would show answers
            continue
        assert "cell_output" in page.read_text(encoding="utf-8"), f"{notebook.name} shows no outputs"


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLOTLY = "application/vnd.plotly.v1+json"


def _outputs(notebook: Path) -> list[dict[str, Any]]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [o.get("data", {}) for c in cells for o in c.get("outputs", [])]


def test_committed_notebooks_read_well_without_a_kernel() -> None:
    """GitHub, nbviewer and the docs have no widget manager: a widget output must carry
    its HTML snapshot. And no widget state may be saved: with it, nbconvert (nbviewer)
    prefers the widget view, which renders empty without a kernel."""
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert "widgets" not in json.loads(notebook.read_text(encoding="utf-8"))["metadata"], (
            f"{notebook.name} stores widget state; execute it with "
            "--ExecutePreprocessor.store_widget_state=False (notebooks/README.md)"
        )
        for data in _outputs(notebook):
            text = "".join(data.get("text/plain", ""))
            if WIDGET_VIEW in data and re.match(r"<\w+ of ", text):  # one of ours
                assert "pb-snapshot" in "".join(data.get("text/html", "")), f"{notebook.name}: {text}"


def test_committed_plotly_figures_carry_a_png() -> None:
    """GitHub and nbviewer cannot draw plotly's JSON: each figure also carries a PNG of
    itself, which the command in notebooks/README.md adds (PLOTLY_RENDERER with kaleido).
    A notebook re-executed without it loses its images; this catches that."""
    figures = 0
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for data in _outputs(notebook):
            if PLOTLY not in data:
                continue
            figures += 1
            assert "image/png" in data, (
                f"{notebook.name}: a plotly figure without its PNG; re-execute it with "
                "PLOTLY_RENDERER=plotly_mimetype+png (notebooks/README.md)"
            )
            png = base64.b64decode("".join(data["image/png"]))
            assert png.startswith(b"\x89PNG\r\n\x1a\n"), notebook.name
            assert len(png) < 250_000, f"{notebook.name}: a {len(png) // 1000} KB PNG"
            assert "text/html" not in data, f"{notebook.name}: a figure with HTML (plotly.js?)"
    assert figures


def test_widget_outputs_show_their_snapshots(html: Path) -> None:
    for name in ("quickstart", "04-live-dashboard", "06-classroom"):
        page = (html / "notebooks" / f"{name}.html").read_text(encoding="utf-8")
        assert 'class="pb-snapshot' in page, name
        assert WIDGET_VIEW not in page, f"{name} has widget views that no page can render"
    dashboard = (html / "notebooks" / "04-live-dashboard.html").read_text(encoding="utf-8")
    for part in ("summary", "chart", "ticket", "table"):
        assert f"pb-snapshot-{part}" in dashboard


def test_plotly_figures_are_drawn_with_the_packaged_plotly_js(html: Path) -> None:
    pages_with_figures = 0
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        figures = sum(PLOTLY in data for data in _outputs(notebook))
        page = (html / "notebooks" / f"{notebook.stem}.html").read_text(encoding="utf-8")
        assert page.count('class="plotly-graph-div"') == figures, notebook.name
        scripts = [s for s in re.findall(r'<script[^>]*\ssrc="([^"]+)"', page) if "plotly" in s]
        if figures:
            pages_with_figures += 1
            assert len(scripts) == 1, f"{notebook.name} loads plotly.js {len(scripts)} times"
            assert (html / "notebooks" / scripts[0]).resolve().is_file(), scripts[0]
        else:
            assert scripts == [], f"{notebook.name} loads plotly.js and draws nothing"
    assert pages_with_figures


def test_pages_load_no_script_from_the_internet(html: Path) -> None:
    """Widgets and figures work offline. (MathJax, which Sphinx loads from a CDN on pages
    with formulas, is the one exception: offline, a formula shows as its TeX source.)"""
    for page in html.rglob("*.html"):
        for src in re.findall(r'<script[^>]*\ssrc="([^"]+)"', page.read_text(encoding="utf-8")):
            if re.match(r"(https?:)?//", src):
                assert "/mathjax" in src, f"{page.relative_to(html)} loads {src}"


def test_api_reference_covers_every_public_name(html: Path) -> None:
    text = (html / "api.html").read_text(encoding="utf-8")
    missing = [
        name for name in pb.__all__ if name != "__version__" and f'id="paperbroker.{name}"' not in text
    ]
    assert not missing, f"not in the API reference: {missing}"


@pytest.mark.parametrize("page", EXAMPLE_PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_examples_run(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    names: dict[str, object] = {}  # shared by the page's blocks, in order
    failures: list[str] = []
    for block in PYCON.finditer(text):
        line = text.count("\n", 0, block.start(1))
        test = parser.get_doctest(block.group(1), names, page.name, str(page), line)
        test.globs = names  # get_doctest copies the dict; the next block needs this one's names
        runner.run(test, out=failures.append, clear_globs=False)
    assert runner.failures == 0, "".join(failures)
