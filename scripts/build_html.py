"""Build the read-only HTML edition of the course from the executed notebooks (run: `make html`).

Usage: python scripts/build_html.py [OUTPUT_DIR]        (default: build/html)

Writes one page per notebook (nbconvert's JupyterLab look, figures embedded as data URIs) and an
index.html that lists the notebooks in order with their time and what each teaches. Solutions are
hidden behind a "Show solution" button. Open index.html from disk: no server, no kernel. Formulas
are typeset by MathJax, fetched from its CDN when online; offline they show as TeX source.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

REVEAL_SOLUTIONS = """
<style>
.hidden-solution { display: none; }
button.show-solution { margin: 0.4em 0 0.8em 5.5em; padding: 0.3em 0.9em; cursor: pointer; }
</style>
<script>
// Solutions (cells tagged "solution") start hidden; one button per run of solution cells reveals them.
document.addEventListener("DOMContentLoaded", function () {
  var cells = [];
  document.querySelectorAll(".celltag_solution").forEach(function (element) {
    var cell = element.closest(".jp-Cell") || element;   // Markdown cells carry the tag on an inner element
    if (cells.indexOf(cell) < 0) { cells.push(cell); }
  });
  cells.forEach(function (cell) { cell.classList.add("solution-cell", "hidden-solution"); });
  cells.forEach(function (cell) {
    var previous = cell.previousElementSibling;
    if (previous && previous.classList.contains("solution-cell")) { return; }
    var run = [];
    for (var next = cell; next && next.classList.contains("solution-cell"); next = next.nextElementSibling) { run.push(next); }
    var button = document.createElement("button");
    button.className = "show-solution";
    button.textContent = "Show solution";
    button.addEventListener("click", function () {
      var hide = !run[0].classList.contains("hidden-solution");
      run.forEach(function (c) { c.classList.toggle("hidden-solution", hide); });
      button.textContent = hide ? "Show solution" : "Hide solution";
    });
    cell.parentNode.insertBefore(button, cell);
  });
});
</script>
"""

INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML-full,Safe"></script>
<script type="text/x-mathjax-config">MathJax.Hub.Config({{tex2jax: {{inlineMath: [["$", "$"]]}}}});</script>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; line-height: 1.45; }}
li.notebook {{ margin-bottom: 1.2em; }}
.time {{ color: #555; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{intro}</p>
<p>This is the read-only edition: every notebook as it ran, with its outputs and figures. Solutions are hidden
behind a button. To run the code, change it, or use the interactive explorer (notebooks 02 and 08), clone the
course and run <code>make lab</code>.</p>
<ol>
{items}
</ol>
</body>
</html>
"""


class Page:
    """What the index says about one notebook."""

    def __init__(self, path: Path, notebook: nbformat.NotebookNode) -> None:
        first = notebook.cells[0].source
        self.source = path
        self.html_name = path.with_suffix(".html").name
        self.title = first.splitlines()[0].lstrip("# ").strip()
        time = re.search(r"\*\*Time\*\*:?\s*(.+)", first)
        self.time = time.group(1).strip() if time else ""
        learn = first.split("**What you will learn**", 1)[-1].split("**Prerequisites**", 1)[0]
        self.objectives = [line[2:].strip() for line in learn.splitlines() if line.startswith("- ")]


def markdown_inline(text: str) -> str:
    """Escape text for HTML, keeping `code`, **bold** and *italics* from the notebook's Markdown."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", text)


def build(output: Path) -> list[Page]:
    """Write the edition into ``output``; return the pages in course order."""
    output.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    pages = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        page = Page(path, notebook)
        body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": page.title}})
        body = body.replace("</head>", REVEAL_SOLUTIONS + "</head>", 1)
        navigation = '<p style="margin: 1em 5.5em;"><a href="index.html">&larr; all notebooks</a></p>'
        body = re.sub(r"(<body[^>]*>)", r"\1" + navigation, body, count=1)
        (output / page.html_name).write_text(body, encoding="utf-8")
        pages.append(page)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    title = readme.splitlines()[0].lstrip("# ").strip()
    intro = readme.split("\n\n", 2)[1].replace("\n", " ")
    items = "\n".join(
        f'<li class="notebook"><a href="{p.html_name}"><strong>{html.escape(p.title)}</strong></a>'
        f' <span class="time">({markdown_inline(p.time)})</span>'
        f"<ul>{''.join(f'<li>{markdown_inline(o)}</li>' for o in p.objectives)}</ul></li>"
        for p in pages
    )
    (output / "index.html").write_text(
        INDEX.format(title=html.escape(title), intro=markdown_inline(intro), items=items), encoding="utf-8"
    )
    return pages


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "html"
    pages = build(output.resolve())
    print(f"{len(pages)} notebooks -> {output / 'index.html'}")


if __name__ == "__main__":
    main()
