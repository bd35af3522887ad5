"""Sphinx configuration: MyST pages, notebooks rendered with their committed outputs,
the API reference from docstrings, the furo theme. Builds offline:

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

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


_copy_notebooks()

exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

# -- MyST and notebooks -----------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # show the outputs committed with each notebook
nb_merge_streams = True

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


def _add_generated(app: object, docname: str, source: list[str]) -> None:
    if docname == "benchmarks":
        source[0] += _bench_readme()
    elif docname == "api":
        source[0] += _undocumented(source[0])


def setup(app: object) -> None:
    app.connect("source-read", _add_generated)  # type: ignore[attr-defined]
    # before napoleon (priority 500) turns the numpy sections into fields
    app.connect("autodoc-process-docstring", _end_parameter_sections, priority=400)  # type: ignore[attr-defined]
