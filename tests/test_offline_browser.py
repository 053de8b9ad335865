"""The classroom without a network: the HTML edition and the slides in headless Chromium with every
non-file:// request refused, slide metadata by rule, and `make lab` without the news pop-up.

Needs Debian's Chromium and Playwright, as tests/test_browser.py (whose ``require`` skips without
them locally and fails under CI=true). The slide screenshot for the README is saved to
build/screenshots/slide.png (docs/slide.png is a copy of it).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_browser import CHROMIUM, CHROMIUM_FLAGS, require, running_jupyterlab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOT = ROOT / "build" / "screenshots" / "slide.png"
SET_SLIDE_METADATA = ROOT / "scripts" / "set_slide_metadata.py"


def script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build_html = script("build_html")
build_slides = script("build_slides")
set_slide_metadata = script("set_slide_metadata")

# What a formula looks like when nothing typeset it.
RAW_TEX = re.compile(r"\\(?:left|right|frac|partial|sum|mathrm|mathbb|alpha|phi|nabla|times)\b|\$\$|\$[^$\s][^$\n]*\$")
VISIBLE_TEXT = "() => document.body.innerText"
RENDERED_MATH = """() => Array.from(document.querySelectorAll('math')).filter(m => {
  const box = m.getBoundingClientRect(); return box.width > 0 && box.height > 0; }).length"""


@pytest.fixture(scope="module")
def browser():
    require(CHROMIUM.is_file(), f"no Chromium at {CHROMIUM}: install Debian's with `apt install chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def offline_page(browser):
    """A page with the network off: the context is offline and every request but file:// is refused."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 800})
    refused: list[str] = []

    def route(request_route):
        if request_route.request.url.startswith(("file:", "data:")):
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not refused, f"the page asked the network for {refused}"
    assert not errors, f"script errors: {errors}"


def test_html_edition_typesets_formulas_offline(tmp_path, offline_page):
    chosen = [NOTEBOOKS / "01_saliency_from_the_formula.ipynb", NOTEBOOKS / "06_shap.ipynb"]
    build_html.build(tmp_path, chosen)
    for name in ["index.html", *(f"{path.stem}.html" for path in chosen)]:
        offline_page.goto((tmp_path / name).as_uri())
        text = offline_page.evaluate(VISIBLE_TEXT)
        raw = RAW_TEX.search(text)
        assert raw is None, f"{name}: raw TeX on the page: {raw and text[max(0, raw.start() - 60) : raw.end() + 60]!r}"
        formulas = offline_page.locator("math").count()
        assert formulas >= 3, name
        rendered = offline_page.evaluate(RENDERED_MATH)
        hidden = offline_page.locator(".hidden-solution math").count()  # solutions start collapsed
        assert rendered >= formulas - hidden, f"{name}: {rendered} of {formulas} formulas rendered ({hidden} hidden)"


def test_slides_open_offline_typeset_formulas_and_advance(tmp_path, offline_page):
    notebook = NOTEBOOKS / "01_saliency_from_the_formula.ipynb"
    (deck,) = build_slides.build(tmp_path, [notebook])
    page_html = deck.read_text()
    assert "celltag_solution" not in page_html and "celltag_self-check" not in page_html
    assert "import copy" not in page_html  # the set-up cell
    offline_page.goto(deck.as_uri())
    offline_page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=10_000)
    assert offline_page.locator(".reveal .slides section").first.is_visible()
    assert offline_page.evaluate("() => Reveal.getTotalSlides()") >= 10
    before = offline_page.evaluate("() => Reveal.getIndices()")
    offline_page.keyboard.press("ArrowRight")
    offline_page.wait_for_function(f"() => Reveal.getIndices().h !== {before['h']}", timeout=5_000)
    shot = None
    for _ in range(40):  # every slide: no raw TeX; remember one with a formula and a figure
        text = offline_page.evaluate(VISIBLE_TEXT)
        raw = RAW_TEX.search(text)
        assert raw is None, f"slide {offline_page.evaluate('() => Reveal.getIndices()')}: raw TeX {raw and raw[0]!r}"
        current = "Reveal.getCurrentSlide()"
        has_formula = offline_page.evaluate(f"() => {current}.querySelectorAll('math').length > 0")
        if has_formula:
            assert offline_page.evaluate(
                f"() => Array.from({current}.querySelectorAll('math')).some(m => m.getBoundingClientRect().height > 0)"
            )
        if shot is None and offline_page.evaluate(
            f"() => {current}.querySelector('math') !== null && {current}.querySelector('img') !== null"
        ):
            shot = offline_page.evaluate("() => Reveal.getIndices()")
        if offline_page.evaluate("() => Reveal.isLastSlide()"):
            break
        offline_page.evaluate("() => Reveal.next()")
    assert offline_page.evaluate("() => Reveal.isLastSlide()")
    if shot is not None:
        offline_page.evaluate(f"() => Reveal.slide({shot['h']}, {shot['v']})")
        offline_page.wait_for_timeout(900)  # the transition
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        offline_page.screenshot(path=str(SCREENSHOT))


def test_slide_rules_skip_setup_checks_and_solutions():
    notebook = nbformat.read(NOTEBOOKS / "01_saliency_from_the_formula.ipynb", as_version=4)
    types = set_slide_metadata.slide_types(notebook)
    assert set(types) <= set(set_slide_metadata.SLIDE_TYPES)
    first_code = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    assert types[0] == "slide" and types[first_code] == "skip"
    for cell, kind in zip(notebook.cells, types, strict=True):
        tags = set(cell.metadata.get("tags", []))
        if tags & {"solution", "self-check", "feedback"}:
            assert kind == "skip"
        elif cell.cell_type == "markdown" and cell.source.startswith("## ") and "\n" in cell.source.strip():
            assert kind == "slide"
        elif cell.cell_type == "markdown" and cell.source.startswith("### ") and kind != "skip":
            assert kind == "subslide"


def test_set_slide_metadata_changes_only_slideshow_and_is_idempotent(tmp_path):
    originals = {}
    for name in ("01_saliency_from_the_formula.ipynb", "05_lime.ipynb"):  # copies without slide metadata
        notebook = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            cell["metadata"].pop("slideshow", None)
        originals[name] = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        (tmp_path / name).write_text(originals[name], encoding="utf-8")
    run = [sys.executable, str(SET_SLIDE_METADATA)]
    subprocess.run([*run, str(tmp_path)], check=True, capture_output=True)
    first = {name: (tmp_path / name).read_text(encoding="utf-8") for name in originals}
    assert subprocess.run([*run, "--check", str(tmp_path)], capture_output=True).returncode == 0
    subprocess.run([*run, str(tmp_path)], check=True, capture_output=True)
    for name, original in originals.items():
        assert (tmp_path / name).read_text(encoding="utf-8") == first[name], f"{name}: a second run changed it"
        written = json.loads(first[name])
        for cell in written["cells"]:
            assert cell["metadata"].pop("slideshow")["slide_type"] in set_slide_metadata.SLIDE_TYPES
        stripped = json.loads(original)
        for cell in stripped["cells"]:
            cell["metadata"].pop("slideshow", None)
        assert written == stripped, f"{name}: something besides metadata.slideshow changed"
        assert first[name].endswith("}\n") and '\n "cells": [\n  {\n' in first[name]  # nbformat's layout
        nbformat.validate(nbformat.reads(first[name], as_version=4))
    (tmp_path / "05_lime.ipynb").write_text(originals["05_lime.ipynb"], encoding="utf-8")
    check = subprocess.run([*run, "--check", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 1 and "05_lime.ipynb" in check.stdout


def test_the_notebooks_slide_metadata_follows_the_rules():
    check = subprocess.run(
        [sys.executable, str(SET_SLIDE_METADATA), "--check", str(NOTEBOOKS)], capture_output=True, text=True
    )
    assert check.returncode == 0, (
        f"run `python scripts/set_slide_metadata.py` and commit the notebooks:\n{check.stdout}"
    )


def make_lab_flags(settings: Path) -> list[str]:
    """LAB_FLAGS as `make lab` passes them, with the settings folder in ``settings``; the folder is made by make."""
    make = shutil.which("make")
    require(make is not None, "no `make`")
    assert make is not None
    variables = [f"LAB_SETTINGS={settings}"]
    subprocess.run([make, "-s", f"{settings}/overrides.json", *variables], cwd=ROOT, check=True)
    printed = subprocess.run(
        [make, "-s", "-f", "Makefile", "-f", "-", "print-lab-flags", *variables],
        cwd=ROOT,
        input="print-lab-flags:\n\t@echo $(LAB_FLAGS)\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return printed.stdout.split()


@pytest.mark.parametrize("settings", ["make lab", "JupyterLab's defaults"])
def test_make_lab_opens_without_the_news_pop_up(tmp_path, browser, settings):
    flags = make_lab_flags(tmp_path / "lab-settings")
    assert any(flag.startswith("--LabApp.app_settings_dir=") for flag in flags)
    if settings != "make lab":  # the control: the same server without the overrides asks about news
        flags = [flag for flag in flags if not flag.startswith("--LabApp.app_settings_dir=")]
        flags.append(f"--LabApp.app_settings_dir={tmp_path / 'empty'}")
    user_settings = {"JUPYTERLAB_SETTINGS_DIR": str(tmp_path / ".user-settings")}  # a user's choice must not hide it
    with running_jupyterlab(tmp_path, [str(tmp_path), *flags], env=user_settings) as (url, token):
        page = browser.new_page()
        try:
            page.goto(f"{url}/lab?token={token}", timeout=60_000)
            page.wait_for_function("() => window.jupyterapp", timeout=60_000)
            page.evaluate("() => window.jupyterapp.restored")
            news = page.get_by_text("official Jupyter news")
            if settings == "make lab":
                page.wait_for_timeout(4_000)
                assert news.count() == 0, "JupyterLab asked about news"
                assert page.locator(".Toastify__toast").count() == 0, page.locator(".Toastify__toast").all_inner_texts()
            else:
                news.first.wait_for(timeout=15_000)  # proves the check above can see the pop-up
        finally:
            page.close()
