"""Write reveal.js slide metadata into the course's notebooks, by rules (idempotent).

Usage: python scripts/set_slide_metadata.py [--check] [PATH ...]   (default: notebooks/)

PATH is a notebook or a folder of notebooks (its NN_*.ipynb). Each cell gets
``metadata.slideshow.slide_type``, what RISE (presenting live in JupyterLab) and nbconvert's
slides (`make slides`) read:

- the title cell, and each cell that opens with a ``# `` or ``## `` heading, starts a slide;
- a ``### `` heading starts a sub-slide (reveal.js stacks sub-slides below their slide);
- the set-up cell (the first code cell) and cells tagged ``self-check``, ``feedback`` or
  ``solution`` are skipped: a lecture shows neither the imports, nor the checks, nor the answers;
  so is a cell holding only a heading whose section has nothing else to show (``### Solution 1``);
- so that no slide runs off the screen, a code cell with a figure starts a sub-slide (the text
  that introduces it stays on the slide before), and so does any cell that would take the
  sub-slide past about a screenful (LINES_PER_SLIDE, estimated from the cell's text, code,
  printed output and figure size);
- every other cell continues the current (sub-)slide: ``-``.

Only ``metadata.slideshow`` changes; the rest of each file is kept byte for byte (the JSON is
written back as nbformat writes it: indent 1, no ASCII escaping, a final newline, the keys in
the order they have). With --check nothing is written, and the exit status is 1 if any
notebook's metadata differs from the rules (tests/test_offline_browser.py runs it).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import struct
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_TAGS = frozenset({"self-check", "feedback", "solution"})
SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
LINES_PER_SLIDE = 28  # a 960 x 700 reveal.js slide holds about 28 lines of notebook text
CHARACTERS_PER_LINE = 70  # of Markdown on a slide (code, in a smaller font: 85)
PIXELS_PER_LINE = 24  # a figure's height in lines of text, after scaling to the slide's width
SLIDE_WIDTH = 900


def text_lines(text: str, width: int = CHARACTERS_PER_LINE) -> int:
    return sum(max(1, math.ceil(len(line) / width)) for line in text.splitlines())


def figure_size(png_base64: str) -> tuple[int, int]:
    """Width and height in pixels of a base64 PNG (read from its IHDR chunk)."""
    header = base64.b64decode(png_base64[:44])
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def has_figure(cell: dict[str, Any]) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


def height(cell: dict[str, Any]) -> int:
    """How many lines of a slide the cell takes, roughly."""
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    if cell["cell_type"] != "code":
        return text_lines(source) + source.count("\n\n") + 1
    lines = text_lines(source, width=85) + 1
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "image/png" in data:
            png = data["image/png"]
            width, pixels = figure_size("".join(png) if isinstance(png, list) else png)
            lines += math.ceil(pixels * min(1.0, SLIDE_WIDTH / width) / PIXELS_PER_LINE)
        else:
            text = output.get("text", data.get("text/plain", ""))
            lines += text_lines("".join(text) if isinstance(text, list) else text, width=85)
    return lines


def slide_types(notebook: dict[str, Any]) -> list[str]:
    """The slide type of every cell of ``notebook`` (nbformat 4, as a dict), by the rules above."""
    cells = notebook["cells"]
    first_code = next((i for i, cell in enumerate(cells) if cell["cell_type"] == "code"), None)
    types = []
    used = 0
    for index, cell in enumerate(cells):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        first_line = source.lstrip().split("\n", 1)[0]
        tags = set(cell.get("metadata", {}).get("tags", []))
        if index == first_code or tags & SKIPPED_TAGS:
            types.append("skip")
            continue
        size = height(cell)
        if index == 0 or (cell["cell_type"] == "markdown" and first_line.startswith(("# ", "## "))):
            kind = "slide"
        elif (
            (cell["cell_type"] == "markdown" and first_line.startswith("### "))
            or (cell["cell_type"] == "code" and has_figure(cell))
            or used + size > LINES_PER_SLIDE
        ):
            kind = "subslide"
        else:
            kind = "-"
        used = size if kind in ("slide", "subslide") else used + size
        types.append(kind)
    for index, cell in enumerate(cells):  # a bare heading over skipped cells only is skipped too
        level = heading_level(cell)
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if level and types[index] != "skip" and index > 0 and "\n" not in source.strip():
            section = []
            for following, kind in zip(cells[index + 1 :], types[index + 1 :], strict=True):
                if 0 < heading_level(following) <= level:
                    break
                section.append(kind)
            if section and all(kind == "skip" for kind in section):
                types[index] = "skip"
    return types


def heading_level(cell: dict[str, Any]) -> int:
    """1 to 6 for a Markdown cell that opens with a heading, else 0."""
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    first = source.lstrip().split("\n", 1)[0]
    hashes = len(first) - len(first.lstrip("#"))
    return hashes if cell["cell_type"] == "markdown" and 0 < hashes <= 6 and first[hashes : hashes + 1] == " " else 0


def apply(notebook: dict[str, Any]) -> bool:
    """Set every cell's ``metadata.slideshow`` by the rules; return whether anything changed.

    Works on a dict from ``json.load`` and on an ``nbformat.NotebookNode`` (a dict) alike.
    """
    changed = False
    for cell, kind in zip(notebook["cells"], slide_types(notebook), strict=True):
        metadata = cell.setdefault("metadata", {})
        if metadata.get("slideshow") == {"slide_type": kind}:
            continue
        keep_sorted = "slideshow" not in metadata and list(metadata) == sorted(metadata)
        metadata["slideshow"] = {"slide_type": kind}
        if keep_sorted:  # nbformat writes keys sorted: put the new one where it would
            for key in sorted(metadata):
                metadata[key] = metadata.pop(key)
        changed = True
    return changed


def notebook_paths(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        found += sorted(path.glob("[0-9][0-9]_*.ipynb")) if path.is_dir() else [path]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any notebook differs")
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "notebooks"])
    arguments = parser.parse_args(argv)
    paths = notebook_paths(arguments.paths)
    if not paths:
        parser.error(f"no notebooks in {', '.join(map(str, arguments.paths))}")
    differing = []
    for path in paths:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if not apply(notebook):
            continue
        differing.append(path)
        if not arguments.check:
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    verb = "differ from the rules" if arguments.check else "updated"
    print(f"{len(differing)} of {len(paths)} notebooks {verb}" + "".join(f"\n  {path}" for path in differing))
    return 1 if arguments.check and differing else 0


if __name__ == "__main__":
    sys.exit(main())
