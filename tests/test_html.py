"""scripts/build_html.py (make html): the read-only edition lists every notebook in order, embeds
every figure, needs no file beside its pages and hides the solutions behind a button."""

import html
import importlib.util
import json
import re
from pathlib import Path

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
