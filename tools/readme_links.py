"""Write the "Open in Colab"-style links into the README, between its two markers, from tools/repository.py.

    python tools/readme_links.py [README]        (default: README.md; --check: exit 1 if they are out of date)

One row per notebook (Colab, Kaggle, SageMaker Studio Lab) and one Binder link, so the owner's name is written
in one place only.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from repository import BRANCH, REPOSITORY

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- links:start -->", "<!-- links:end -->"


def links(notebooks: list[str], repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """The Markdown between the markers: a table of notebooks and where to open each, then Binder."""
    blob = f"github/{repository}/blob/{branch}/notebooks"
    rows = ["| Notebook | Open in |", "|---|---|"]
    for name in notebooks:
        colab = f"[Colab](https://colab.research.google.com/{blob}/{name})"  # text, not a badge: nothing to fetch
        kaggle = f"[Kaggle](https://kaggle.com/kernels/welcome?src=https://github.com/{repository}/blob/{branch}/notebooks/{name})"
        studio = f"[Studio Lab](https://studiolab.sagemaker.aws/import/{blob}/{name})"
        rows.append(f"| `{name}` | {colab} · {kaggle} · {studio} |")
    binder = f"https://mybinder.org/v2/gh/{repository}/{branch}?urlpath=lab/tree/notebooks"
    rows += ["", f"All of them in JupyterLab on Binder: [launch Binder]({binder}) (uses environment.yml)."]
    return "\n".join(rows)


def rewrite(text: str, block: str) -> str:
    """`text` with everything between the markers replaced by `block`; a sentence if the markers are missing."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise SystemExit(f"readme_links: the README needs one {START} line and, after it, one {END} line")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{block}\n{END}{tail}"


def lesson_notebooks(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", nargs="?", type=Path, default=ROOT / "README.md")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--check", action="store_true", help="exit 1 when the links are out of date")
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    updated = rewrite(text, links(lesson_notebooks(args.notebooks)))
    if args.check:
        return 0 if updated == text else 1
    args.readme.write_text(updated)
    print(f"readme_links: {'updated' if updated != text else 'unchanged'}: {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
