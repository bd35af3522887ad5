"""Sphinx configuration: MyST pages, notebooks rendered with their committed outputs,
the API reference from docstrings, the furo theme. Builds offline:

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import paperbroker

ROOT = Path(__file__).resolve().parents[1]
REPO_URL = "https://github.com/paperbroker/paperbroker"

project = "paperbroker"
author = "paperbroker developers"
copyright = "paperbroker developers"
release = version = paperbroker.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages and .ipynb notebooks (includes myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]


# The notebooks live in the repository's notebooks/ folder. They are copied into
# docs/notebooks/ (ignored by git) on every build, so that the links between them and to
# their README resolve as they do on GitHub (a symlink would not: Sphinx resolves links
# through it to paths outside the source folder).
def _copy_notebooks() -> None:
    target = Path(__file__).resolve().parent / "notebooks"
    if target.is_symlink():
        target.unlink()
    shutil.rmtree(target, ignore_errors=True)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.py", "*.cfg")
    shutil.copytree(ROOT / "notebooks", target, ignore=ignore)
    for notebook in target.glob("*.ipynb"):
        _plotly_as_html(notebook)


# -- plotly figures ---------------------------------------------------------------------
# A notebook keeps a plotly figure as its JSON (application/vnd.plotly.v1+json), which
# JupyterLab draws with the plotly extension; MyST-NB knows no such mime type and warns.
# In the copy the docs are built from, each figure becomes HTML that draws it with
# plotly.js. plotly.js itself is the file of the installed plotly package, written once
# into _static and loaded only by the pages that draw a figure: no CDN, and the notebooks
# do not carry 3.5 MB of JavaScript each. The theme loads scripts at the end of the page,
# so a figure is drawn once the page is parsed. A figure's output also carries a static
# image of it, for GitHub (notebooks/README.md); the page draws the figure instead.
PLOTLY_MIME = "application/vnd.plotly.v1+json"
PLOTLY_CLASS = "plotly-graph-div"


def _plotly_js_name() -> str:
    from plotly.offline import get_plotlyjs_version

    return f"plotly-{get_plotlyjs_version()}.min.js"


def _plotly_html(figure: dict[str, Any], div_id: str) -> str:
    height = figure.get("layout", {}).get("height") or 450
    # "</" in the data cannot end the script early: JSON reads "<\/" as "</"
    spec = json.dumps(figure, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div id="{div_id}" class="{PLOTLY_CLASS}" style="height:{int(height)}px;width:100%"></div>'
        '<script>document.addEventListener("DOMContentLoaded",function(){'
        f"var f={spec};"
        f'Plotly.newPlot("{div_id}",f.data,f.layout,{{responsive:true}});}});</script>'
    )


def _plotly_as_html(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    changed = False
    for n, cell in enumerate(notebook["cells"]):
        for k, output in enumerate(cell.get("outputs", [])):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                for mime in [m for m in data if m.startswith("image/")]:
                    del data[mime]
                # stable ids: a rebuild gives the same page
                data["text/html"] = _plotly_html(data.pop(PLOTLY_MIME), f"{path.stem}-{n}-{k}")
                changed = True
    if changed:
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")


def _load_plotly_js(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if PLOTLY_CLASS in context.get("body", ""):
        app.add_js_file(_plotly_js_name())  # in this event: for this page only


def _write_plotly_js(app: Any, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        from plotly.offline import get_plotlyjs

        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        (static / _plotly_js_name()).write_text(get_plotlyjs(), encoding="utf-8")


_copy_notebooks()

exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

# -- MyST and notebooks -----------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # show the outputs committed with each notebook
nb_merge_streams = True
# A widget output carries the live view and a static HTML snapshot of the widget (see
# src/paperbroker/widgets/_html.py). A page has no kernel for a live view, so it shows
# the snapshot; and it loads no widget manager from a CDN.
nb_mime_priority_overrides = [("*", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js: dict[str, dict[str, str]] = {}

# -- API reference ----------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autosummary_generate = False  # tables only: every name is documented on the API page
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# -- HTML -------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"paperbroker {release}"
html_theme_options = {"source_repository": REPO_URL, "source_branch": "main", "source_directory": "docs/"}


# -- The benchmark figures --------------------------------------------------------------
# bench/README.md is written by the benchmark scripts' authors, section by section. It is
# appended to the benchmarks page when the page is read; relative links become links to
# the repository, and a missing file or figure leaves a sentence instead of a broken build.
def _bench_readme() -> str:
    readme = ROOT / "bench" / "README.md"
    if not readme.exists():
        return "\nNo benchmark figures are recorded in this version yet.\n"
    text = readme.read_text(encoding="utf-8")
    text = re.sub(r"\A\s*# [^\n]*\n", "", text)  # the page has its own title

    def link(match: re.Match[str]) -> str:
        bang, label, target = match.group(1), match.group(2), match.group(3)
        if re.match(r"[a-z][a-z0-9+.-]*:|#", target):
            return match.group(0)  # absolute URL or anchor
        path = (readme.parent / target.split("#")[0]).resolve()
        if bang:
            if path.is_file():
                return f"![{label}]({Path(os.path.relpath(path, ROOT / 'docs')).as_posix()})"
            return f"*(figure {target} not recorded yet)*"
        return f"[{label}]({REPO_URL}/blob/main/{path.relative_to(ROOT).as_posix()})"

    return "\n" + re.sub(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)", link, text)


# -- The rest of the public API ----------------------------------------------------------
# Names in paperbroker.__all__ that api.md does not document yet (new ones land with the
# code) are appended to the API page, so the reference never misses a public name.
def _undocumented(text: str) -> str:
    import inspect

    documented = set(re.findall(r"\bpaperbroker\.(\w+)", text))
    missing = [n for n in paperbroker.__all__ if n not in documented and not n.startswith("_")]
    if not missing:
        return ""
    lines = ["", "## More", "", "```{eval-rst}"]
    for name in missing:
        obj = getattr(paperbroker, name)
        if inspect.isclass(obj):
            kind = "autoexception" if issubclass(obj, BaseException) else "autoclass"
            lines += [f".. {kind}:: paperbroker.{name}", "   :members:", ""]
        elif inspect.isroutine(obj):
            lines += [f".. autofunction:: paperbroker.{name}", ""]
        elif inspect.ismodule(obj):
            lines += [f".. automodule:: paperbroker.{name}", "   :members:", ""]
        else:
            lines += [f".. autodata:: paperbroker.{name}", "   :no-value:", ""]
    return "\n".join([*lines, "```", ""])


# -- Docstrings -------------------------------------------------------------------------
# napoleon reads every paragraph after a "Parameters" heading as more parameters. A
# paragraph at the docstring's own indentation that is not a parameter name (one word)
# ends the section: it is given a "Notes" heading.
def _end_parameter_sections(
    app: object, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    in_params = False
    for i, line in enumerate(list(lines)):
        if line == "Parameters" and i + 1 < len(lines) and set(lines[i + 1]) == {"-"}:
            in_params = True
        elif (
            in_params
            and line
            and not line[0].isspace()
            and " " in line.split(" : ")[0]
            and not lines[i - 1].strip()
        ):
            lines[i:i] = ["Notes", "-----"]
            return


# The widgets are traitlets classes, whose metaclass machinery gives them the signature
# of HasTraits.__new__, (*args, **kwargs); show their __init__'s parameters instead.
def _widget_signature(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: str | None
) -> tuple[str, str | None] | None:
    if what != "class" or not name.startswith("paperbroker.widgets."):
        return None
    from sphinx.util.inspect import signature as init_signature
    from sphinx.util.inspect import stringify_signature

    sig = init_signature(obj.__init__, bound_method=True, type_aliases=app.config.autodoc_type_aliases)
    return stringify_signature(sig, show_return_annotation=False, unqualified_typehints=True), None


def _add_generated(app: object, docname: str, source: list[str]) -> None:
    if docname == "benchmarks":
        source[0] += _bench_readme()
    elif docname == "api":
        source[0] += _undocumented(source[0])


def setup(app: Any) -> None:
    app.connect("source-read", _add_generated)
    app.connect("autodoc-process-signature", _widget_signature)
    app.connect("html-page-context", _load_plotly_js)
    app.connect("build-finished", _write_plotly_js)
    # before napoleon (priority 500) turns the numpy sections into fields
    app.connect("autodoc-process-docstring", _end_parameter_sections, priority=400)
