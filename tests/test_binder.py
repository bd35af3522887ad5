"""The Binder configuration in binder/, checked the way Binder (repo2docker) reads it.

The quick checks run everywhere. The replay, a fresh virtual environment that installs
``binder/requirements.txt`` from the repository root, runs ``binder/postBuild`` and
executes every notebook there, needs the package registry and takes about a minute: it
runs in CI (``CI`` set) or with ``PAPERBROKER_BINDER_REPLAY=1``, and is skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BADGE = re.compile(
    r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]"
    r"\(https://mybinder\.org/v2/gh/(?P<repo>[^/]+/[^/]+)/(?P<ref>[^?]+)\?urlpath=lab/tree/(?P<path>[^)]+)\)"
)


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


def _requirements() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def test_requirements_install_this_checkout() -> None:
    # A binder/ folder makes repo2docker ignore the root pyproject.toml: only a "." line
    # installs the package (pip resolves it from the repository root, where Binder runs it).
    requirements = _requirements()
    assert "." in requirements, "binder/requirements.txt must list '.' on its own line"
    assert not any(r.startswith(("-e", "--editable")) for r in requirements)


def test_runtime_pins_a_supported_python() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10, which pyproject.toml allows: tomli is in the test extra there
        import tomli as tomllib
    from packaging.specifiers import SpecifierSet

    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(3\.\d+)", runtime)
    assert match, f"binder/runtime.txt must read like python-3.12, not {runtime!r}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"{match[1]}.0" in SpecifierSet(requires)


def test_post_build_is_executable_and_stops_on_errors() -> None:
    post_build = BINDER / "postBuild"
    text = post_build.read_text()
    assert text.startswith("#!/bin/bash\n")
    # Without set -e a failing step would not fail the Binder build.
    assert re.search(r"^set -[a-z]*e", text, re.MULTILINE)
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable (git update-index --chmod=+x)"


def test_nothing_overrides_requirements_txt() -> None:
    # environment.yml (conda) would take precedence over requirements.txt and ignore
    # runtime.txt; a second config folder is an error for repo2docker.
    for name in ("environment.yml", "Pipfile", "Pipfile.lock", "setup.py", "Dockerfile", "Project.toml"):
        assert not (BINDER / name).exists(), f"binder/{name} would change how Binder builds"
    assert not (ROOT / ".binder").exists()


def test_readme_badge_opens_jupyterlab() -> None:
    match = BADGE.search((ROOT / "README.md").read_text())
    assert match, "README.md needs the Binder badge linking to mybinder.org/v2/gh/..."
    assert match["repo"] == "paperbroker/paperbroker"
    assert match["ref"] == "main"
    assert match["path"].startswith("notebooks/") and match["path"].endswith(".ipynb")


def test_readme_badge_notebook_exists() -> None:
    match = BADGE.search((ROOT / "README.md").read_text())
    assert match
    assert (ROOT / match["path"]).is_file(), f"the Binder badge opens {match['path']}, which does not exist"


def test_repo2docker_reads_the_configuration() -> None:
    if importlib.util.find_spec("repo2docker") is None:
        if _in_ci():
            pytest.fail("jupyter-repo2docker is not installed; it is in the test extra")
        pytest.skip("jupyter-repo2docker is not installed (pip install -e '.[test]')")
    # --no-build prints the Dockerfile repo2docker would build, without Docker.
    result = subprocess.run(
        [sys.executable, "-m", "repo2docker", "--no-build", "--debug", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    runtime = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    assert f"python={runtime}" in out
    copy_repo = out.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    install = re.search(r'pip install [^\n]*-r "binder/requirements\.txt"', out)
    assert install, out
    # "." needs the whole repository: the install must come after it is copied in.
    assert install.start() > copy_repo
    assert "RUN ./binder/postBuild" in out


@pytest.mark.skipif(
    not (_in_ci() or os.environ.get("PAPERBROKER_BINDER_REPLAY")),
    reason="replays the Binder install from the package registry (about a minute): "
    "runs in CI or with PAPERBROKER_BINDER_REPLAY=1",
)
def test_binder_install_runs_every_notebook(tmp_path: Path) -> None:
    assert NOTEBOOKS, "no notebooks to run"
    venv = tmp_path / "binder-env"
    bindir = venv / "bin"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_PATH"}
    }
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    # Only this environment's kernel: no kernel specs or settings from the user's folders.
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")
    env["IPYTHONDIR"] = str(tmp_path / "ipython")

    def run(*args: str | Path, cwd: Path = ROOT, timeout: float = 600) -> str:
        result = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    # What Binder does: pip install -r binder/requirements.txt from the repository root,
    # then binder/postBuild.
    run(sys.executable, "-m", "venv", venv)
    run(bindir / "python", "-m", "pip", "install", "--quiet", "-r", "binder/requirements.txt", timeout=900)
    run(BINDER / "postBuild")

    installed = run(bindir / "python", "-c", "import paperbroker; print(paperbroker.__file__)", cwd=tmp_path)
    assert Path(installed.strip()).is_relative_to(venv), "Binder must use the installed package"
    overrides = json.loads((venv / "share/jupyter/lab/settings/overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:kernels-settings"]["commsOverSubshells"] == "disabled"

    out = tmp_path / "executed"
    run(
        bindir / "jupyter",
        "nbconvert",
        "--to=notebook",
        "--execute",
        f"--output-dir={out}",
        "--ExecutePreprocessor.timeout=300",
        *NOTEBOOKS,
    )
    assert sorted(p.name for p in out.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
