"""The README's notebook links: written between the markers from the one configured repository name."""

import pytest

from tools import readme_links

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


def test_links_replace_what_is_between_the_markers_and_check_tells_stale_from_current(folders):
    readme, notebooks = folders
    arguments = [str(readme), "--notebooks", str(notebooks)]
    assert readme_links.main([*arguments, "--check"]) == 1
    assert readme.read_text() == README  # --check never writes
    assert readme_links.main(arguments) == 0
    text = readme.read_text()
    head, rest = text.split("<!-- links:start -->\n")
    block, tail = rest.split("\n<!-- links:end -->")
    assert (head, tail) == ("# Course\n\nIntro.\n\n", "\n\n## Next\n")
    assert block == readme_links.links(["00_install.ipynb", "01_model.ipynb"])
    colab = "https://colab.research.google.com/github/mnist-tutorial/mnist-tutorial/blob/main/notebooks/01_model.ipynb"
    assert colab in block and "scratch" not in block and "old links" not in text
    assert readme_links.main([*arguments, "--check"]) == 0


def test_every_link_names_the_configured_repository():
    block = readme_links.links(["01_model.ipynb"], repository="someone/course", branch="dev")
    urls = [part.split(")")[0] for part in block.split("](")[1:]]
    assert len(urls) == 4  # Colab, Kaggle, Studio Lab, Binder
    assert all("someone/course" in url and "dev" in url for url in urls)


def test_a_readme_without_the_markers_is_refused_in_a_sentence(tmp_path, folders):
    _, notebooks = folders
    readme = tmp_path / "plain.md"
    readme.write_text("# Course\n")
    with pytest.raises(SystemExit, match="the README needs one <!-- links:start --> line"):
        readme_links.main([str(readme), "--notebooks", str(notebooks)])
