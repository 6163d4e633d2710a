"""The README's notebook links: written between the markers from the one configured repository name."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import readme_links

README = "# Course\n\nIntro.\n\n<!-- links:start -->\nold links\n<!-- links:end -->\n\n## Next\n"


@pytest.fixture
def folders(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("00_install.ipynb", "01_model.ipynb", "conftest.py", "scratch.ipynb"):
        (notebooks / name).write_text("{}")
    readme = tmp_path / "README.md"
    readme.write_text(README)
    return readme, notebooks


def test_links_replace_what_is_between_the_markers_and_nothing_else(folders):
    readme, notebooks = folders
    assert readme_links.main([str(readme), "--notebooks", str(notebooks)]) == 0
    text = readme.read_text()
    head, rest = text.split("<!-- links:start -->\n")
    block, tail = rest.split("\n<!-- links:end -->")
    assert (head, tail) == ("# Course\n\nIntro.\n\n", "\n\n## Next\n")
    assert block == readme_links.links(["00_install.ipynb", "01_model.ipynb"])
    assert (
        "https://colab.research.google.com/github/mnist-tutorial/mnist-tutorial/blob/main/notebooks/01_model.ipynb"
        in block
    )
    assert "scratch" not in block and "old links" not in text
    assert readme_links.main([str(readme), "--notebooks", str(notebooks), "--check"]) == 0


def test_every_link_names_the_configured_repository():
    block = readme_links.links(["01_model.ipynb"], repository="someone/course", branch="dev")
    urls = [
        part.split(")")[0]
        for part in block.split("](")[1:]
        if not part.startswith("https://colab.research.google.com/assets")
    ]
    assert len(urls) == 4  # Colab, Kaggle, Studio Lab, Binder
    assert all("someone/course" in url and "dev" in url for url in urls)


def test_check_fails_when_the_links_are_stale(folders):
    readme, notebooks = folders
    assert readme_links.main([str(readme), "--notebooks", str(notebooks), "--check"]) == 1
    assert readme.read_text() == README  # --check never writes


def test_a_readme_without_the_markers_is_refused_in_a_sentence(tmp_path, folders):
    _, notebooks = folders
    readme = tmp_path / "plain.md"
    readme.write_text("# Course\n")
    with pytest.raises(SystemExit, match="the README needs one <!-- links:start --> line"):
        readme_links.main([str(readme), "--notebooks", str(notebooks)])
