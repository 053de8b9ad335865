"""Build reveal.js slide decks of the course's notebooks (run: `make slides`).

Usage: python scripts/build_slides.py [OUTPUT_DIR] [NOTEBOOK ...]   (default: build/slides, every notebook)

Writes NN_name.slides.html per notebook, an index.html that lists the decks, and a copy of
reveal.js beside them. Open index.html from disk: no server, no kernel, no network. Arrow keys
move between slides (down for a slide's sub-slides), S opens the speaker view, F full screen.

- Slides follow scripts/set_slide_metadata.py's rules, applied here in memory, so a deck never
  depends on whether the stored notebooks' metadata is up to date (RISE, presenting live in
  JupyterLab, reads the stored metadata; a test checks it matches the rules). Set-up,
  self-check, feedback and solution cells are skipped.
- Formulas are MathML made at build time, as in the HTML edition (scripts/build_html.py).
- reveal.js comes from vendor/reveal.js/: version 4.6.1 (MIT), the last of the 4.x line that
  nbconvert 7's slides template is written for, copied once from the npm registry (only the
  files a deck loads). nbconvert would load reveal.js 4.0.2 from unpkg.com, plus jQuery and
  require.js from other CDNs; this template loads only the local copy, with plain <script> tags.
"""

from __future__ import annotations

import html
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import nbformat
from nbconvert import SlidesExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
REVEAL = ROOT / "vendor" / "reveal.js"


def _script(name: str) -> ModuleType:
    """Import scripts/<name>.py (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build_html = _script("build_html")
set_slide_metadata = _script("set_slide_metadata")

SLIDES_CSS = """
<style>
/* Slides that are taller than the screen scroll instead of running off it. */
.reveal .slides section.present { overflow-y: auto; max-height: 100%; }
.reveal .jp-RenderedImage img { max-height: 520px; width: auto; }
.reveal math[display="block"] { margin: 0.4em 0; }
.reveal h1, .reveal h2, .reveal h3 { text-transform: none; }
</style>
"""

FOOTER_JS = """
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({
  controls: true,
  progress: true,
  history: true,
  transition: "{{ resources.reveal.transition }}",
  slideNumber: "c/t",
  plugins: [RevealNotes],
  width: {{ resources.reveal.width or 960 }},
  height: {{ resources.reveal.height or 700 }},
});
</script>
"""

INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}: slides</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 50em; margin: 2em auto; padding: 0 1em; line-height: 1.5; }}
</style>
</head>
<body>
<h1>{title}: slides</h1>
<p>One reveal.js deck per notebook, without set-up code, self-checks or solutions. Arrow keys move between
slides (down for a slide's sub-slides); <kbd>S</kbd> opens the speaker view, <kbd>F</kbd> full screen.
The read-only edition with every cell is <code>make html</code>; to present live, open a notebook in
JupyterLab (<code>make lab</code>) and press <kbd>Alt</kbd>+<kbd>R</kbd> (RISE).</p>
<ol>
{items}
</ol>
</body>
</html>
"""


class MathMLSlidesExporter(SlidesExporter):
    """nbconvert's SlidesExporter with MathML formulas and reveal.js from a local folder."""

    markdown2html = build_html.MathMLHTMLExporter.markdown2html

    def __init__(self, **kwargs) -> None:
        blocks = {
            "html_head_js": "",  # jQuery, require.js and Mermaid from CDNs
            "jupyter_widgets": "",
            "html_head_js_mathjax": build_html.MATH_CSS + SLIDES_CSS,
            "footer_js": FOOTER_JS,
        }
        kwargs.setdefault("extra_loaders", [build_html.template_without_cdn("index.html.j2", blocks)])
        kwargs.setdefault("template_file", "offline.html.j2")
        kwargs.setdefault("reveal_url_prefix", "reveal.js")
        kwargs.setdefault("reveal_theme", "white")  # "simple", nbconvert's default, loads Google fonts
        super().__init__(**kwargs)


def deck(path: Path, exporter: MathMLSlidesExporter) -> tuple[str, str]:
    """The title and the HTML of one notebook's deck."""
    notebook = nbformat.read(path, as_version=4)
    set_slide_metadata.apply(notebook)
    title = notebook.cells[0].source.splitlines()[0].lstrip("# ").strip()
    try:
        body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    except build_html.MathError as error:
        raise build_html.MathError(f"{path.name}: {error}") from None
    return title, body


def build(output: Path, notebooks: list[Path] | None = None) -> list[Path]:
    """Write the decks, their index and reveal.js into ``output``; return the decks' paths."""
    output.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REVEAL, output / "reveal.js", dirs_exist_ok=True)
    exporter = MathMLSlidesExporter()
    decks, items = [], []
    for path in notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        title, body = deck(path, exporter)
        target = output / f"{path.stem}.slides.html"
        target.write_text(body, encoding="utf-8")
        decks.append(target)
        items.append(f'<li><a href="{target.name}">{html.escape(title)}</a></li>')
    readme_title = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    index = INDEX.format(title=html.escape(readme_title), items="\n".join(items))
    (output / "index.html").write_text(index, encoding="utf-8")
    return decks


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "slides"
    notebooks = [Path(arg).resolve() for arg in sys.argv[2:]] or None
    decks = build(output.resolve(), notebooks)
    print(f"{len(decks)} decks -> {output / 'index.html'}")


if __name__ == "__main__":
    main()
