"""Write the student version of a notebook whose exercises come with their answers.

    python notebooks/student_version.py            # 03-pnl-accounting -> 03-pnl-accounting-student
    python notebooks/student_version.py --check    # exit 1 if the student file is out of date

The answered notebook is the source: nbval runs it, so its answers are checked.  In it,
each code cell tagged ``answer`` gives its answer on a line ``answer = ...``; the student
version keeps the cell and leaves that line as ``answer = ...``, which the notebook's
``check`` reports as "not answered yet".  A markdown cell tagged ``answers-note`` (which
says the answers are filled in) gets the student text below instead.  The student
version has no outputs and no ``# NBVAL_CHECK_OUTPUT`` markers: it runs under nbval to
show that every cell works before anything is answered.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "03-pnl-accounting.ipynb"
TARGET = HERE / "03-pnl-accounting-student.ipynb"

STUDENT_NOTE = (
    "**This is the student version**: each exercise's answer is left as `answer = ...`. "
    "Replace the `...` with your answer (a number, or a calculation such as "
    "`(12 - 10) * 100`) and run the cell after it to have it checked. "
    "The answered version is `03-pnl-accounting.ipynb`."
)
BLANK = "answer = ...  # your answer here"
MARKER = "# NBVAL_CHECK_OUTPUT"


def _lines(cell: dict) -> list[str]:
    source = cell["source"]
    text = "".join(source) if isinstance(source, list) else source
    return text.split("\n")


def _set(cell: dict, lines: list[str]) -> None:
    cell["source"] = "\n".join(lines).splitlines(keepends=True)


def student(notebook: dict) -> dict:
    """The student version of ``notebook`` (a notebook's JSON), as a new dict."""
    out = copy.deepcopy(notebook)
    answers = 0
    for cell in out["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown" and "answers-note" in tags:
            _set(cell, [STUDENT_NOTE])
        if cell["cell_type"] != "code":
            continue
        lines = _lines(cell)
        if "answer" in tags:
            found = [n for n, line in enumerate(lines) if line.startswith("answer =")]
            if len(found) != 1:
                msg = f"cell {cell.get('id')} is tagged 'answer' but has {len(found)} lines 'answer = ...'"
                raise ValueError(msg)
            # the answer may go on over several lines, in brackets: all of it goes
            end = found[0] + 1
            while end < len(lines) and (lines[end].startswith((" ", ")")) or not lines[end].strip()):
                end += 1
            lines[found[0] : end] = [BLANK]
            answers += 1
        if lines and lines[0].strip() == MARKER:
            lines = lines[1:]
        _set(cell, lines)
        cell["outputs"] = []
        cell["execution_count"] = None
    if not answers:
        raise ValueError("no cell is tagged 'answer': nothing to blank")
    return out


def render(notebook: dict) -> str:
    """A notebook's JSON as Jupyter writes it (one-space indent, a final newline)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write the student version, or with ``--check`` only say whether it is up to date."""
    text = render(student(json.loads(SOURCE.read_text(encoding="utf-8"))))
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.name} is out of date: run python notebooks/{Path(__file__).name}")
            return 1
        print(f"{TARGET.name} is up to date.")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
