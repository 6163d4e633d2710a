"""The glossary holds every word the notebooks set in italics (menu paths aside), so no *term* goes unexplained."""

import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ITALIC = re.compile(r"(?<![*\w])\*([^*\n]+?)\*(?![*\w])")
ENTRY = re.compile(r"^\*\*([^*]+)\*\*:", re.MULTILINE)


def italic_terms() -> dict[str, str]:
    """Each italic word or phrase of the notebooks' text, with the first notebook using it."""
    found: dict[str, str] = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "solutions").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                for term in ITALIC.findall("".join(cell["source"])):
                    if "▸" not in term and term != "italics":  # not a menu path (*Kernel ▸ Shut Down Kernel*)
                        found.setdefault(term, path.name)
    return found


def entries() -> set[str]:
    """Each entry's name, and the names inside it: "Learning rate (lr)" is also "learning rate" and "lr"."""
    names = set()
    for entry in ENTRY.findall((NOTEBOOKS / "glossary.md").read_text()):
        outside, _, inside = entry.lower().partition("(")
        names |= {name.strip() for name in [entry.lower(), outside, *inside.rstrip(")").split(",")] if name.strip()}
    return names


def explained(term: str, glossary: set[str]) -> bool:
    """The term, or its singular, names an entry."""
    return bool({term.lower(), term.lower().removesuffix("s")} & glossary)


def test_every_italic_term_has_a_glossary_entry():
    glossary = entries()
    missing = {term: notebook for term, notebook in italic_terms().items() if not explained(term, glossary)}
    assert missing == {}


def test_the_scan_finds_terms_and_entries():
    assert {"epoch", "loss", "confusion matrix"} <= set(italic_terms())
    assert "epoch" in entries()
