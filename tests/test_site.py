"""tools/build_site.py: the course as a static website, built offline, every notebook a page, no broken link.

A hostile notebook (an <img> with onerror, a remote and an inline <script> in an HTML output) reaches its page
with no script and no event handler, and runs none in Chromium; `--out` replaces only a folder that the builder
made. tests/test_accessibility.py opens every page in Chromium (offline, no page error, no blocked resource).
"""

import html
import html.parser
import json
import re
from pathlib import Path

import nbformat
import pytest
from helpers import chromium

from tools import build_site

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NUMBERED = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_every_notebook_has_a_page_with_its_outputs(site: Path) -> None:
    for notebook in NUMBERED + sorted(NOTEBOOKS.glob("solutions/[0-9][0-9]_*.ipynb")):
        page = site / notebook.relative_to(NOTEBOOKS).with_suffix(".html")
        assert page.is_file(), f"no page for {notebook.name}"
        text = page.read_text()
        outputs = [output for cell in json.loads(notebook.read_text())["cells"] for output in cell.get("outputs", [])]
        printed = next((o["text"] for o in outputs if o.get("output_type") == "stream"), None)
        if printed:  # the first printed line appears on the page as it was committed (figures: test_accessibility)
            first = "".join(printed).strip().splitlines()[0]
            assert html.escape(first, quote=False).replace('"', "&quot;") in text, f"{page.name} lacks {first!r}"


def test_no_page_links_to_a_missing_file_and_none_loads_a_script_from_a_network(site: Path) -> None:
    assert build_site.broken_links(site) == []
    for page in site.rglob("*.html"):
        assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', page.read_text()), page.name


def test_the_readme_is_the_front_page_and_the_path_is_the_navigation(site: Path) -> None:
    front = (site / "index.html").read_text()
    assert "<h1" in front and "mnist-tutorial" in front and "The learning path" in front
    for page in [site / "index.html", *(site / f"{nb.stem}.html" for nb in NUMBERED)]:
        nav = re.search(r'<nav class="course">(.*?)</nav>', page.read_text(), re.DOTALL).group(1)
        links = re.findall(r'href="([^"]+)"', nav)
        assert [link for link in links if re.match(r"\d\d_", link)] == [f"{nb.stem}.html" for nb in NUMBERED]
        assert "index.html" in links and "draw/index.html" in links


def test_the_last_page_links_to_the_draw_page_of_the_sample_model(site: Path) -> None:
    assert 'class="try-it"' in (site / f"{NUMBERED[-1].stem}.html").read_text()
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


def test_every_page_carries_a_policy_that_forbids_scripts_from_elsewhere(site: Path) -> None:
    for page in site.rglob("*.html"):
        policies = [tag["content"] for tag in tags(page) if tag.get("http-equiv") == "Content-Security-Policy"]
        assert len(policies) == 1, f"{page.name}: {len(policies)} Content-Security-Policy meta tags"
        scripts = re.search(r"script-src ([^;]*)", policies[0]).group(1).split()
        assert scripts == (["'self'"] if page.parent.name == "draw" else ["'none'"]), f"{page.name}: {scripts}"


# --- a hostile notebook, and where the site is written ------------------------------------------------------------


class Tags(html.parser.HTMLParser):
    """Every start tag of a page, as a dict of its attributes with its name under "tag"."""

    def __init__(self) -> None:
        super().__init__()
        self.found = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.found.append({**{name: value or "" for name, value in attrs}, "tag": tag})


def tags(page: Path) -> list[dict]:
    parser = Tags()
    parser.feed(page.read_text())
    return parser.found


HOSTILE_HTML = '<p>hello</p><script src="https://example.invalid/x.js"></script><script>window.PWNED = 1</script>'


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of one hostile notebook, built into a folder of its own (its draw page's network trained here)."""
    sources = tmp_path_factory.mktemp("hostile")
    (sources / "notebooks").mkdir()
    (sources / "README.md").write_text("# Home\n\nThe learning path: `01_hostile`\n")
    cells = [
        nbformat.v4.new_markdown_cell("# Hostile\n\n<img src=x onerror=alert(1)>\n"),
        nbformat.v4.new_code_cell(
            "show()",
            outputs=[
                nbformat.v4.new_output("display_data", data={"text/html": HOSTILE_HTML, "text/plain": "hello"}),
                nbformat.v4.new_output("display_data", data={"application/javascript": "window.PWNED = 2"}),
            ],
        ),
    ]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), sources / "notebooks" / "01_hostile.ipynb")
    out = tmp_path_factory.mktemp("hostile-out") / "site"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mnist_tutorial.defaults.BUILD_DIR", sources / "build")  # no checkpoint: train one
        with pytest.raises(build_site.BrokenLinks, match=r"01_hostile\.html: x"):  # the <img> keeps its src
            build_site.build_site(out, notebooks=sources / "notebooks", readme=sources / "README.md")
    return out


def test_a_hostile_notebooks_page_holds_no_script_and_no_event_handler(hostile_site: Path) -> None:
    page = hostile_site / "01_hostile.html"
    found = tags(page)
    assert [tag for tag in found if tag["tag"] == "script"] == []
    assert [tag for tag in found if any(name.startswith("on") for name in tag)] == []
    assert [tag for tag in found if "example.invalid" in " ".join(tag.values())] == []
    assert "<p>hello</p>" in page.read_text()  # the output's harmless HTML is still there
    assert [path.name for path in hostile_site.parent.iterdir()] == ["site"]  # the build wrote only into its folder
    assert (hostile_site / build_site.MARKER).is_file()


@pytest.mark.browser
def test_a_hostile_notebooks_page_runs_no_script_in_chromium(hostile_site: Path) -> None:
    requests, dialogs = [], []
    with chromium() as browser:
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto((hostile_site / "01_hostile.html").as_uri())
        page.wait_for_load_state("load")
        assert page.evaluate("window.PWNED") is None
    assert dialogs == []
    assert [url for url in requests if not url.startswith("file://")] == []


def test_out_is_refused_unless_the_builder_made_it_and_replaced_if_it_did(tmp_path: Path, capsys) -> None:
    keep = tmp_path / "keep"
    (keep / "notes").mkdir(parents=True)
    (keep / "notes" / "thesis.md").write_text("years of work")
    assert build_site.main(["--out", str(keep)]) == 2
    assert capsys.readouterr().err == (
        f"build_site: --out {keep} is not empty and was not made by build_site.py: give --out a new or empty "
        "folder, or delete this one yourself\n"
    )
    assert [path.name for path in keep.rglob("*")] == ["notes", "thesis.md"]
    assert (keep / "notes" / "thesis.md").read_text() == "years of work"
    out = tmp_path / "site"
    build_site.prepare(out)
    (out / "old.html").write_text("from an earlier build")
    build_site.prepare(out)
    assert [path.name for path in out.iterdir()] == [build_site.MARKER]
