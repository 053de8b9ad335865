r"""Build the read-only HTML edition of the course from the executed notebooks (run: `make html`).

Usage: python scripts/build_html.py [OUTPUT_DIR]        (default: build/html)

Writes one page per notebook (nbconvert's JupyterLab look, figures embedded as data URIs) and an
index.html that lists the notebooks in order with their time and what each teaches. Solutions are
hidden behind a "Show solution" button. Open index.html from disk: no server, no kernel, no network.

Formulas are converted at build time from the notebooks' TeX (`$...$` inline, `$$...$$` display) to
MathML by latex2mathml (pure Python, MIT, about 100 kB, in the test extra), and the browser typesets
the MathML itself: Chromium (109+), Firefox and Safari all render MathML Core. This was chosen over
nbconvert's default, MathJax from a CDN (offline the pages showed raw TeX), and over copying a
MathJax 2.7 tree into build/ (megabytes of scripts and fonts loaded by a JavaScript loader that is
no longer developed): a web standard in the page needs no script, no file beside the page and no
network, so the edition keeps working for years. Only the Markdown of the notebooks is converted:
code cells and their outputs, inline code and escaped `\$` are left alone. A formula latex2mathml
cannot convert (a syntax error, or a command it does not know, which it would otherwise pass on as
text) stops the build with the notebook and the formula, rather than leaving TeX in a page.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import jinja2
import nbformat
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


class MathError(ValueError):
    """A formula that latex2mathml cannot turn into MathML."""


# MathML Core (what Chromium implements) renders no mathvariant but "normal", so bold letters and
# digits (\mathbf{1}) become Unicode's mathematical bold characters; \mathbb and \mathcal already do.
_BOLD = {**{chr(65 + i): chr(0x1D400 + i) for i in range(26)}, **{chr(97 + i): chr(0x1D41A + i) for i in range(26)}}
_BOLD.update({str(i): chr(0x1D7CE + i) for i in range(10)})
_BOLD_ELEMENT = re.compile(r'<(mi|mn) mathvariant="bold">([A-Za-z0-9]+)</\1>')
_LEFT_OVER = re.compile(r"\\|&(?!#x?[0-9A-Fa-f]+;|[a-z]+;)|mathvariant=\"(?!normal\")")
MATH_CSS = """
<style>
/* MathML made at build time from the notebooks' TeX (scripts/build_html.py) */
math { font-size: 1.08em; }
math[display="block"] { margin: 0.7em 0; }
</style>
"""


def tex_to_mathml(tex: str, *, display: bool) -> str:
    """One formula's MathML, or MathError if latex2mathml cannot convert all of it.

    latex2mathml passes a command it does not know through as text (``<mi>\\foo</mi>``), so a
    backslash, a stray ``&`` or a mathvariant that MathML Core does not render in the result is
    an error too.
    """
    try:
        mathml = latex_to_mathml(tex.strip(), display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises its own exception classes, and IndexError on some typos
        raise MathError(f"latex2mathml cannot convert {tex!r}: {type(error).__name__}: {error}") from error
    mathml = mathml.replace(
        "<mi>&#x029F5;</mi>", "<mo>&#x02216;</mo>"
    )  # \setminus as the set-minus operator, which math fonts have
    mathml = _BOLD_ELEMENT.sub(lambda m: f"<{m[1]}>{''.join(_BOLD[c] for c in m[2])}</{m[1]}>", mathml)
    left_over = _LEFT_OVER.search(mathml)
    if left_over:
        raise MathError(f"latex2mathml cannot convert {tex!r} (left over: {left_over[0]!r})")
    return mathml


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with MathML where it would write TeX for MathJax."""

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


def template_without_cdn(base: str, blocks: dict[str, str]) -> jinja2.DictLoader:
    """A template ``offline.html.j2`` that extends ``base`` and replaces the named blocks.

    Both exporters' templates load MathJax, require.js and Mermaid from CDNs in blocks of their own;
    the course's notebooks need none of them (no widgets, no diagrams, formulas are MathML).
    """
    body = "".join(f"{{% block {name} %}}{text}{{% endblock {name} %}}\n" for name, text in blocks.items())
    return jinja2.DictLoader({"offline.html.j2": f"{{%- extends '{base}' -%}}\n{body}"})


class MathMLHTMLExporter(HTMLExporter):
    """nbconvert's HTMLExporter with formulas as MathML and nothing fetched from the network."""

    def __init__(self, **kwargs) -> None:
        blocks = {"html_head_js_requirejs": "", "html_head_js_mermaidjs": "", "html_head_js_mathjax": MATH_CSS}
        kwargs.setdefault("extra_loaders", [template_without_cdn("index.html.j2", blocks)])
        kwargs.setdefault("template_file", "offline.html.j2")
        super().__init__(**kwargs)

    @jinja2.pass_context
    def markdown2html(self, context, source: str) -> str:
        """HTMLExporter.markdown2html (nbconvert 7) with MathMLRenderer for IPythonRenderer."""
        cell = context.get("cell", {})
        renderer = MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)


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
<style>
math {{ font-size: 1.08em; }}
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
    """Escape text for HTML, keeping `code`, $formulas$ (as MathML), **bold** and *italics* from the Markdown."""
    pieces = []
    for piece in re.split(r"(`[^`]+`|(?<![\\$])\$[^$]+?(?<!\\)\$)", text):
        if piece.startswith("`") and piece.endswith("`") and len(piece) > 1:
            pieces.append(f"<code>{html.escape(piece[1:-1])}</code>")
        elif piece.startswith("$") and piece.endswith("$") and len(piece) > 2:
            pieces.append(tex_to_mathml(piece[1:-1], display=False))
        else:
            piece = html.escape(piece.replace("\\$", "$"))
            piece = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", piece)
            pieces.append(re.sub(r"\*([^*]+)\*", r"<em>\1</em>", piece))
    return "".join(pieces)


def build(output: Path, notebooks: list[Path] | None = None) -> list[Page]:
    """Write the edition into ``output`` (of ``notebooks``, default all); return the pages in course order."""
    output.mkdir(parents=True, exist_ok=True)
    exporter = MathMLHTMLExporter(template_name="lab")
    pages = []
    for path in notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        page = Page(path, notebook)
        try:
            body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": page.title}})
        except MathError as error:
            raise MathError(f"{path.name}: {error}") from None
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
