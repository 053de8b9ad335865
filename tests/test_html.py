"""scripts/build_html.py (make html): the read-only edition lists every notebook in order, embeds
every figure, needs no file beside its pages, fetches nothing from the network (formulas are
MathML made at build time) and hides the solutions behind a button.

tests/test_offline_browser.py opens the edition in Chromium with the network off."""

import html
import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_spec = importlib.util.spec_from_file_location("build_html", ROOT / "scripts" / "build_html.py")
assert _spec is not None and _spec.loader is not None
build_html = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_html)


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    output = tmp_path_factory.mktemp("html")
    return output, build_html.build(output)


def test_index_lists_every_notebook_in_order_with_its_time_and_objectives(edition):
    output, pages = edition
    index = (output / "index.html").read_text()
    assert [page.source.name for page in pages] == [path.name for path in NOTEBOOKS]
    positions = [index.index(f'href="{path.stem}.html"') for path in NOTEBOOKS]
    assert positions == sorted(positions)
    for page in pages:
        assert html.escape(page.title) in index and page.title.startswith(page.source.name[:2])
        assert "minutes" in page.time, f"{page.source.name}: no **Time** line found"
        assert len(page.objectives) >= 3, f"{page.source.name}: no 'What you will learn' bullets found"


def test_every_page_embeds_every_figure(edition):
    output, _ = edition
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        figures = sum("image/png" in o.get("data", {}) for c in notebook["cells"] for o in c.get("outputs", []))
        page = (output / f"{path.stem}.html").read_text()
        assert page.count('src="data:image/png;base64,') == figures, path.name


def test_pages_need_no_local_file_and_show_no_machine_path(edition):
    output, _ = edition
    for page in sorted(output.glob("*.html")):
        text = page.read_text()
        for link in re.findall(r'(?:src|href)="([^"]*)"', text):
            if link.startswith(("data:", "https://", "#")):
                continue
            assert (output / link).is_file(), f"{page.name} links to {link!r}, which is not in the edition"
        assert str(ROOT) not in text and "site-packages" not in text, page.name


def test_solutions_start_hidden_behind_a_button(edition):
    output, _ = edition
    for path in NOTEBOOKS:
        page = (output / f"{path.stem}.html").read_text()
        assert "celltag_solution" in page and "Show solution" in page and ".hidden-solution { display: none; }" in page
        assert '<a href="index.html">' in page


# Left in a page's text, these mean a formula was not converted.
TEX_LEFT_OVER = re.compile(
    r"\\(?:left|right|frac|partial|sum|mathrm|mathbb|alpha|phi)\b|\$\$|(?<![\w$])\$[^$\s][^$]*\$"
)


def visible_markdown(page: str) -> str:
    """The text of a page's Markdown cells (and the index), without tags, code or MathML."""
    page = re.sub(r"<(math|code|pre|script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_formulas_are_mathml_and_no_page_loads_anything_from_the_network(edition):
    output, _ = edition
    for page in sorted(output.glob("*.html")):
        text = page.read_text()
        assert "<math" in text, f"{page.name}: no formula converted"
        assert "mathjax" not in text.lower(), page.name
        for tag, link in re.findall(r"<(script|link|img|iframe)\b[^>]*?(?:src|href)=\"([^\"]*)\"", text):
            assert not link.startswith(("http:", "https:", "//")), f"{page.name}: <{tag}> loads {link}"
        assert "import mermaid" not in text, page.name
        left = TEX_LEFT_OVER.search(visible_markdown(text))
        assert left is None, f"{page.name}: TeX left in the text: {left and left[0]!r}"


def test_every_formula_of_every_notebook_converts():
    count = 0
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                build_html.MathMLHTMLExporter().markdown2html({"cell": cell}, cell.source)
                count += cell.source.count("$")
    assert count > 200  # the course has some 200 formulas; all of them converted


def test_a_formula_latex2mathml_cannot_convert_fails_the_build():
    assert "<mfrac>" in build_html.tex_to_mathml(r"\frac{\partial S_c}{\partial x_i}", display=True)
    assert "\U0001d7cf" in build_html.tex_to_mathml(r"z = \mathbf{1}", display=False)  # MathML Core has no bold
    with pytest.raises(build_html.MathError, match="nosuchcommand"):
        build_html.tex_to_mathml(r"\nosuchcommand x", display=False)
    with pytest.raises(build_html.MathError, match=r"\\frac\{1\}\{"):
        build_html.tex_to_mathml(r"\frac{1}{", display=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("A typo: $\\fracc{1}{2}$.")])
    with pytest.raises(build_html.MathError, match="fracc"):
        build_html.MathMLHTMLExporter(template_name="lab").from_notebook_node(notebook)


def test_code_escaped_dollars_and_outputs_keep_their_dollars():
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("It costs \\$5 or \\$6; `a $x$ b` is code; $y^2$ is maths."),
            nbformat.v4.new_code_cell(
                "print('$z$')", outputs=[nbformat.v4.new_output("stream", name="stdout", text="$\\frac{1}{2}$\n")]
            ),
        ]
    )
    page, _ = build_html.MathMLHTMLExporter(template_name="lab").from_notebook_node(notebook)
    assert "It costs $5 or $6; <code>a $x$ b</code> is code; <math" in page
    assert "<msup><mi>y</mi><mn>2</mn></msup>" in page
    assert "<pre>$\\frac{1}{2}$\n</pre>" in page and "'$z$'" in page
    assert build_html.markdown_inline("`$a$` and $b$ cost \\$1") == (
        '<code>$a$</code> and <math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><mi>b</mi></mrow></math> cost $1'
    )
