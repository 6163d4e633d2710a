"""Build the course as a static website, offline: `python tools/build_site.py [--out build/site]` (make site).

- every notebook in notebooks/ (and notebooks/solutions/), rendered by nbconvert with its committed outputs,
  figures included, in JupyterLab's look, with the learning path as navigation on every page;
- the README as the front page, and notebooks/*.md (the glossary) as pages of their own;
- draw/: the page of `mnist-tutorial export` for the network trained on the embedded sample (03's, if it was
  trained there on the sample; otherwise the lesson's run, trained here in a few seconds), linked from the
  navigation and from the last page.
Nothing is fetched from a network, and the pages load no script from one: MathJax, require.js and the widget
manager that nbconvert's template would take from a CDN are left out (the notebooks have no formulas, and a
widget shows its text form). A notebook's own HTML (Markdown, HTML outputs) goes through nbconvert's sanitising
(bleach, allowing what a course page needs), and every page carries a Content-Security-Policy: no script at all
on the notebook pages, only the draw page's own files on it. The build ends by checking that no page links to a
missing file.

`--out` is replaced only when an earlier build made it (it holds MARKER); any other non-empty folder is refused.
"""

import argparse
import contextlib
import hashlib
import html
import io
import re
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import bleach
import jinja2
import nbformat
from bleach.css_sanitizer import CSSSanitizer
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
NUMBERED = "[0-9][0-9]_*.ipynb"
STYLE = re.compile(r'<style type="text/css">(.*?)</style>', re.DOTALL)
# Written into every site, so that a later build may replace the folder; any other non-empty folder is refused.
MARKER = ".site-build"
# No script but the draw page's own files; inline styles stay, for the text-align of Markdown tables.
CSP = (
    "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'"
)
PAGE_CSP, DRAW_CSP = CSP.format(scripts="'none'"), CSP.format(scripts="'self'")
# What a course page's Markdown and HTML outputs may hold (bleach, as nbconvert's own clean_html, with more tags).
HEADINGS = {f"h{level}" for level in range(1, 7)}
BLOCKS = {"p", "div", "span", "pre", "hr", "br", "img", "dl", "dt", "dd", "details", "summary", "figure", "figcaption"}
INLINE = {"del", "ins", "s", "u", "sub", "sup", "kbd", "samp", "var", "mark", "small", "q", "cite"}
TABLES = {"table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td"}
ATTRIBUTES = {
    "*": ["class", "id", "title", "lang", "dir", "style"],
    "a": ["href", "rel"],
    "img": ["src", "alt", "width", "height"],
    "ol": ["start", "type"],
    "th": ["align", "colspan", "rowspan", "scope"],
    "td": ["align", "colspan", "rowspan"],
    "col": ["span"],
}
# data: for the images nbconvert embeds from Markdown (embed_images); browsers refuse to open a data: link itself.
CLEANER = bleach.Cleaner(
    tags=bleach.ALLOWED_TAGS | HEADINGS | BLOCKS | INLINE | TABLES,
    attributes=ATTRIBUTES,
    protocols=bleach.ALLOWED_PROTOCOLS | {"data"},
    css_sanitizer=CSSSanitizer(),
)

TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}
<meta http-equiv="Content-Security-Policy" content="{{ resources.site_csp }}">
{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.site_css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.site_nav }}{%- endblock body_header -%}
{%- block body_footer -%}{{ resources.site_footer }}{{ super() }}{%- endblock body_footer -%}
{%- block data_png scoped -%}
{#- nbconvert's own block ignores the output's alt metadata (and its exporter then writes "No description has
    been provided for this image"): give the <img> the sentence the notebook displayed it with. -#}
{%- set alttext = output | get_metadata('alt', 'image/png') -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- if alttext %} alt="{{ alttext | escape_html }}"{% endif %}>
</div>
{%- endblock data_png -%}
"""

CSS = """
main { max-width: 1000px; margin: 0 auto; }
nav.course { display: flex; flex-wrap: wrap; gap: 0.3rem 0.9rem; align-items: baseline; padding: 0.7rem 0 0.8rem;
  margin-bottom: 1rem; border-bottom: 1px solid #d0d7de; font: 14px/1.4 system-ui, sans-serif; }
nav.course a { color: #0969da; text-decoration: none; }
nav.course a:hover { text-decoration: underline; }
nav.course .home { font-weight: 700; margin-right: 0.5rem; }
nav.course .current { font-weight: 700; color: #1f2328; }
footer.course { display: flex; justify-content: space-between; gap: 1rem; margin: 2rem 0 1rem; padding-top: 0.8rem;
  border-top: 1px solid #d0d7de; font: 14px/1.4 system-ui, sans-serif; }
footer.course a { color: #0969da; text-decoration: none; }
/* Contrast of at least 4.5:1 (WCAG 2.1 AA) on the code cells' grey (#f5f5f5) and the page's white, where
   JupyterLab's light theme falls short: operators, numbers, comments, prompts. Set on body, which wins over the
   theme's :root for everything inside it. */
body {
  --jp-mirror-editor-operator-color: #8a2be2; --jp-mirror-editor-meta-color: #8a2be2;
  --jp-mirror-editor-number-color: #007000; --jp-mirror-editor-quote-color: #007000;
  --jp-mirror-editor-comment-color: #3a6e6e; --jp-mirror-editor-atom-color: #4b4bc8;
  --jp-mirror-editor-bracket-color: #5c5c45; --jp-mirror-editor-hr-color: #595959;
  --jp-mirror-editor-error-color: #c00000;
  --jp-cell-inprompt-font-color: #1a5f9e; --jp-cell-outprompt-font-color: #a8380d;
  --jp-cell-prompt-not-active-font-color: #595959; --jp-cell-prompt-not-active-opacity: 1;
}
/* A link inside text is underlined: told from the words around it by more than its colour. */
body .jp-RenderedHTMLCommon a:link, body .jp-RenderedHTMLCommon a:visited, .try-it a { text-decoration: underline; }
.try-it { margin: 1rem 0; padding: 0.8rem 1rem; border: 1px solid #54aeff; border-radius: 6px; background: #ddf4ff;
  font: 15px/1.5 system-ui, sans-serif; }
"""


class BrokenLinks(Exception):
    """A page of the built site links to a file the site lacks."""


class OutRefused(Exception):
    """`--out` names a folder this tool did not make, or something that is not a folder, in one sentence."""


class Page:
    """One page of the site: its source, its output path within the site, and its title in the navigation."""

    def __init__(self, source: Path, target: str, title: str) -> None:
        self.source, self.target, self.title = source, target, title


def notebook_title(path: Path) -> str:
    """The notebook's first heading, short: "3 · Training", "8 · Deploy" (what follows a colon is left out)."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if match:
                return match.group(1).split(":")[0].replace("(appendix)", "").strip()
    return path.stem


def plan(notebooks: Path, readme: Path) -> tuple[list[Page], list[Page]]:
    """(the learning path, the other pages): front page, numbered notebooks; solutions and Markdown files."""
    path = [Page(readme, "index.html", "Home")]
    path += [Page(nb, f"{nb.stem}.html", notebook_title(nb)) for nb in sorted(notebooks.glob(NUMBERED))]
    others = [Page(md, f"{md.stem}.html", md.stem.capitalize()) for md in sorted(notebooks.glob("*.md"))]
    others += [
        Page(nb, f"solutions/{nb.stem}.html", f"Solution: {nb.stem}")
        for nb in sorted(notebooks.glob(f"solutions/{NUMBERED}"))
    ]
    return path, others


def navigation(page: Page, path: list[Page], extras: list[tuple[str, str]]) -> str:
    """The bar at the top of every page: home, the learning path in order, then the extras (glossary, draw)."""
    up = "../" * page.target.count("/")
    links = []
    for index, stop in enumerate(path):
        label = "mnist-tutorial" if index == 0 else html.escape(stop.title)
        css = "home" if index == 0 else ("current" if stop.target == page.target else "")
        links.append(f'<a class="{css}" href="{up}{stop.target}">{label}</a>')
    for target, label in extras:
        css = "current" if target == page.target else ""
        links.append(f'<a class="{css}" href="{up}{target}">{html.escape(label)}</a>')
    return f'<nav class="course">{"".join(links)}</nav>'


def footer(page: Page, path: list[Page]) -> str:
    """Previous and next along the learning path."""
    targets = [stop.target for stop in path]
    if page.target not in targets:
        return ""
    index = targets.index(page.target)
    up = "../" * page.target.count("/")
    before = (
        f'<a href="{up}{path[index - 1].target}">← {html.escape(path[index - 1].title)}</a>'
        if index
        else "<span></span>"
    )
    after = (
        f'<a href="{up}{path[index + 1].target}">{html.escape(path[index + 1].title)} →</a>'
        if index + 1 < len(path)
        else '<a href="draw/index.html">Draw a digit for the network →</a>'
    )
    return f'<footer class="course">{before}{after}</footer>'


def as_notebook(page: Page) -> nbformat.NotebookNode:
    """The page's source as a notebook: a notebook without its widget state, or Markdown as one cell."""
    if page.source.suffix == ".md":
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(page.source.read_text())])
    else:
        notebook = nbformat.read(page.source, as_version=4)
        notebook.metadata.pop("widgets", None)  # else the page would load a widget manager from a CDN
    notebook.metadata["title"] = f"{page.title} · mnist-tutorial" if page.title != "Home" else "mnist-tutorial"
    return notebook


def clean_html(text: object) -> str:
    """A notebook's HTML with only the tags, attributes and URLs that CLEANER allows."""
    return CLEANER.clean(text.decode() if isinstance(text, bytes) else str(text))


def make_exporter() -> HTMLExporter:
    """nbconvert's lab template with this site's blocks, sanitising every notebook's own HTML with clean_html."""
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"site.html.j2": TEMPLATE})],
        embed_images=True,
        sanitize_html=True,
        filters={"clean_html": clean_html},  # nbconvert's own would escape the headings, paragraphs and images
    )
    exporter.template_file = "site.html.j2"
    return exporter


def render(page: Page, nav: str, foot: str, exporter: HTMLExporter) -> str:
    resources = {"site_css": CSS, "site_nav": nav, "site_footer": foot, "site_csp": PAGE_CSP}
    body, _ = exporter.from_notebook_node(as_notebook(page), resources=resources)
    return body


def fix_links(text: str, names: set[str]) -> str:
    """Links between notebooks and Markdown files point at their pages: 03_training.ipynb -> 03_training.html."""

    def page_link(match: re.Match) -> str:
        target, fragment = match.group(2), match.group(3) or ""
        if urlsplit(target).scheme:
            return match.group(0)
        stem = re.sub(r"\.(ipynb|md)$", "", target)
        if stem != target and Path(stem).name in names:
            return f'{match.group(1)}="{stem}.html{fragment}"'
        return match.group(0)

    return re.sub(r'(href)="([^"#]+?)(#[^"]*)?"', page_link, text)


def link_notebook_names(text: str, path: list[Page]) -> str:
    """On the front page, `03_training` (the README's learning path) becomes a link to its page."""
    for stop in path[1:]:
        stem = Path(stop.target).stem
        text = text.replace(f"<code>{stem}</code>", f'<a href="{stop.target}"><code>{stem}</code></a>')
    return text


def draw_page_checkpoint(work: Path) -> Path:
    """03's model.pt if it was trained on the embedded MNIST sample; else the lesson's run, trained now."""
    from mnist_tutorial import load_checkpoint, train_and_save
    from mnist_tutorial.defaults import BUILD_DIR

    checkpoint = BUILD_DIR / "03_training" / "model.pt"
    if checkpoint.is_file():
        state = load_checkpoint(checkpoint)
        if state.get("dataset") == "mnist" and (state.get("settings") or {}).get("source") == "sample":
            return checkpoint
    print("Training the lesson's network on the embedded sample for the draw page (a few seconds) ...")
    with contextlib.redirect_stdout(io.StringIO()):
        train_and_save(dataset="mnist", source="sample", device="cpu", out=work, progress=False)
    return work / "model.pt"


def broken_links(site: Path) -> list[str]:
    """Every href or src in the site's pages that points at a file the site lacks, as "page: link"."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        for link in re.findall(r'(?:href|src)="([^"]*)"', page.read_text()):
            parts = urlsplit(html.unescape(link))
            if parts.scheme or link.startswith(("#", "//")) or not parts.path:
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not (target.is_file() or (target / "index.html").is_file()):
                broken.append(f"{page.relative_to(site)}: {link}")
    return broken


def prepare(out: Path) -> None:
    """Create `out` empty, with MARKER in it; replace it only when an earlier build made it."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutRefused(f"--out {out} is not a folder: give --out a new or empty folder")
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise OutRefused(
                f"--out {out} is not empty and was not made by build_site.py: give --out a new or empty folder, "
                "or delete this one yourself"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("Written by tools/build_site.py; replaced on every build.\n", encoding="utf-8")


def build_site(out: Path, *, notebooks: Path = ROOT / "notebooks", readme: Path = ROOT / "README.md") -> list[Path]:
    """Write the site into `out` (replacing an earlier build); returns the pages written. Raises if a link is broken."""
    path, others = plan(notebooks, readme)
    extras = [(page.target, page.title) for page in others if not page.target.startswith("solutions/")]
    extras.append(("draw/index.html", "Draw a digit"))
    names = {Path(page.target).stem for page in path + others}
    exporter = make_exporter()
    prepare(out)
    written = []
    for page in path + others:
        text = fix_links(render(page, navigation(page, path, extras), footer(page, path), exporter), names)
        if page is path[0]:
            text = link_notebook_names(text, path)
        if page is path[-1]:
            text = add_invitation(text)
        target = out / page.target
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(share_styles(text, "../" * page.target.count("/"), out))
        written.append(target)
    write_draw_page(out / "draw")
    (out / ".nojekyll").touch()  # GitHub Pages: serve the files as they are
    broken = broken_links(out)
    if broken:
        raise BrokenLinks("links to missing files:\n  " + "\n  ".join(broken))
    return written


def write_draw_page(folder: Path) -> None:
    """The draw page (`mnist-tutorial export`) in `folder`, its model trained in a scratch folder, with the CSP."""
    from mnist_tutorial.deploy.export import export_model

    with tempfile.TemporaryDirectory() as scratch:
        page = export_model(checkpoint=draw_page_checkpoint(Path(scratch)), out=folder).page
    meta = f'<meta http-equiv="Content-Security-Policy" content="{DRAW_CSP}">'
    page.write_text(page.read_text().replace("<head>", f"<head>\n  {meta}", 1))


def share_styles(text: str, up: str, out: Path) -> str:
    """Move the page's styles (JupyterLab's, about 250 KB) into one file that every page links to."""
    head, rest = text.split("</head>", 1)
    css = "\n".join(STYLE.findall(head))
    name = f"static/site-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
    (out / "static").mkdir(parents=True, exist_ok=True)
    if not (out / name).is_file():
        (out / name).write_text(css)
    return STYLE.sub("", head) + f'<link rel="stylesheet" href="{up}{name}">\n</head>' + rest


def add_invitation(text: str) -> str:
    """The last page of the path invites the reader to the draw page, below the navigation."""
    box = (
        '<div class="try-it"><strong>Try it:</strong> <a href="draw/index.html">draw a digit</a> for the network '
        "this course trains on the embedded sample, right here in your browser.</div>"
    )
    return text.replace("</nav>", "</nav>" + box, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="default: build/site")
    args = parser.parse_args(argv)
    try:
        pages = build_site(args.out)
    except OutRefused as error:
        print(f"build_site: {error}", file=sys.stderr)
        return 2
    except BrokenLinks as error:
        print(f"build_site: {error}", file=sys.stderr)
        return 1
    shown = args.out.resolve().relative_to(ROOT) if args.out.resolve().is_relative_to(ROOT) else args.out
    print(f"Wrote {len(pages)} pages and the draw page into {shown}/: open {shown}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
