"""tools/build_site.py: the course as a static website, built offline, every notebook a page, no broken link.

The browser test opens the front page and 03 in headless Chromium from file:// (nothing may be fetched from a
network) and keeps screenshots in build/screenshots/site_front.png and site_03_training.png.
"""

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = Path(os.environ.get("MNIST_TUTORIAL_CHROMIUM", "/usr/bin/chromium"))


def load_tool():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_site = load_tool()


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted(NOTEBOOKS.glob("solutions/[0-9][0-9]_*.ipynb"))


def test_every_notebook_has_a_page_with_its_outputs_and_figures(site: Path) -> None:
    for notebook in notebooks():
        page = site / notebook.relative_to(NOTEBOOKS).with_suffix(".html")
        assert page.is_file(), f"no page for {notebook.name}"
        text = page.read_text()
        outputs = [output for cell in json.loads(notebook.read_text())["cells"] for output in cell.get("outputs", [])]
        figures = sum("image/png" in output.get("data", {}) for output in outputs)
        assert text.count("data:image/png;base64,") >= figures, f"{page.name} lacks figures"
        printed = next((o["text"] for o in outputs if o.get("output_type") == "stream"), None)
        if printed:  # the first printed line appears on the page as it was committed
            first = "".join(printed).strip().splitlines()[0]
            assert escape(first) in text, f"{page.name} lacks the output {first!r}"


def escape(line: str) -> str:
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def test_no_page_links_to_a_missing_file_and_none_loads_a_script_from_a_network(site: Path) -> None:
    assert build_site.broken_links(site) == []
    for page in site.rglob("*.html"):
        assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', page.read_text()), page.name


def test_the_readme_is_the_front_page_and_the_path_is_the_navigation(site: Path) -> None:
    front = (site / "index.html").read_text()
    assert "<h1" in front and "mnist-tutorial" in front and "The learning path" in front
    numbered = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for page in [site / "index.html", *(site / f"{nb.stem}.html" for nb in numbered)]:
        nav = re.search(r'<nav class="course">(.*?)</nav>', page.read_text(), re.DOTALL).group(1)
        links = re.findall(r'href="([^"]+)"', nav)
        assert [link for link in links if re.match(r"\d\d_", link)] == [f"{nb.stem}.html" for nb in numbered]
        assert "index.html" in links and "draw/index.html" in links


def test_the_last_page_links_to_the_draw_page_of_the_sample_model(site: Path) -> None:
    last = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))[-1]
    assert 'class="try-it"' in (site / f"{last.stem}.html").read_text()
    assert (site / "draw" / "index.html").is_file() and (site / "draw" / "model.onnx").is_file()
    metadata = json.loads((site / "draw" / "metadata.json").read_text())
    assert metadata["trained_on"].startswith("MNIST (the embedded sample)")


def test_the_link_check_finds_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.html").write_text(
        '<a href="sub/b.html#x">b</a> <a href="https://example.org/">out</a> <img src="c.png">'
    )
    (tmp_path / "sub" / "b.html").write_text('<a href="../a.html">a</a> <a href="../missing.html">gone</a>')
    assert build_site.broken_links(tmp_path) == ["a.html: c.png", "sub/b.html: ../missing.html"]


@pytest.mark.browser
def test_the_pages_look_right_in_chromium_offline(site: Path) -> None:
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is not at {CHROMIUM}: apt-get install chromium, or set MNIST_TUTORIAL_CHROMIUM")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        requests, errors = [], []
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        for name, shot in (("index.html", "site_front.png"), ("03_training.html", "site_03_training.png")):
            page.goto((site / name).as_uri())
            assert page.locator("nav.course a").count() >= 10
            assert page.evaluate("getComputedStyle(document.querySelector('.jp-Cell')).display") != "none"
            page.screenshot(path=str(SCREENSHOTS / shot))
        page.click("nav.course >> text=Draw a digit")
        assert page.url.endswith("/draw/index.html")
        browser.close()
    assert all(url.startswith("file://") for url in requests), [u for u in requests if not u.startswith("file:")]
    assert errors == []
