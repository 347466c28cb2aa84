"""The whole book as one PDF (``make pdf``), printed by headless Chromium.

``jupyter-book build . --builder singlehtml`` writes every page, notebooks executed, into one HTML
page; :func:`print_book` serves it on localhost, waits until MathJax has typeset every formula and
every plot has loaded, puts a table of contents (the parts and chapters of ``_toc.yml``, linked) in
front, and prints it with Playwright's ``page.pdf``: A4, page numbers in the footer, a PDF outline.
Chinese text is set in the system's Noto CJK fonts (``fonts-noto-cjk``), which Chromium embeds, so
no glyph is dropped (MyST's LaTeX route and Sphinx's default zh-TW font lose CJK text silently).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

PDF_NAME = "sequence-models.pdf"
HINT = ("printing the PDF needs Chromium and Playwright: `apt-get install chromium fonts-noto-cjk` and "
        "`pip install -r requirements.txt` (playwright)")

# Print layout: the article only (no sidebars, header, buttons or prev/next links), every section
# of the single page flowing on, each chapter from a new page.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
html, body { font-family: "Noto Sans CJK TC", "Noto Sans TC", "Noto Sans CJK JP", sans-serif; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .bd-footer,
.bd-footer-article, .prev-next-area, .header-article-items, .headerlink, .toggle-details,
.bd-search, .search-button, .theme-switch-button, .skip-link, .back-to-top, #pst-back-to-top,
.bd-footer-content, footer, .sidebar-toggle { display: none !important; }
.bd-container, .bd-container__inner, .bd-main, .bd-content, .bd-article-container, .bd-article
  { max-width: none !important; width: 100% !important; margin: 0 !important; padding: 0 !important;
    display: block !important; }
pre, .highlight pre { white-space: pre-wrap !important; word-break: break-all; }
img { max-width: 100% !important; page-break-inside: avoid; break-inside: avoid; }
.seqlab-chapter { break-before: page; }
#seqlab-pdf-toc, .seqlab-toc-page { break-after: page; }
#seqlab-pdf-toc h1 { font-size: 1.8em; margin-bottom: .8em; }
#seqlab-pdf-toc .part { font-weight: bold; margin-top: .9em; }
#seqlab-pdf-toc a { color: inherit; text-decoration: none; }
#seqlab-pdf-toc .chapter { margin-left: 1.5em; }
#seqlab-pdf-toc .lesson { margin-left: 3em; font-size: .95em; }
"""

# Builds the table of contents from the documents' own first headings, in _toc.yml's order.
TOC_JS = """
([title, parts, rootDoc]) => {
  // The theme prints its own linked table of contents (#jb-print-toc); ours only where it is missing.
  const themeToc = document.getElementById('jb-print-docs-body');
  const nav = document.createElement('nav');
  nav.id = 'seqlab-pdf-toc';
  const h = document.createElement('h1');
  h.textContent = title;
  nav.appendChild(h);
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const heading = (doc) => {
    // the root document is the page itself; the others follow a <span id="document-…"> each
    const anchor = document.getElementById('document-' + doc) || (doc === rootDoc ? article.querySelector('section') : null);
    if (!anchor) return null;
    if (anchor.tagName === 'SECTION') return [anchor, anchor, anchor.querySelector('h1, h2, h3')];
    let node = anchor.nextElementSibling;
    while (node && !node.querySelector('h1, h2, h3') && !/^H[1-3]$/.test(node.tagName)) node = node.nextElementSibling;
    if (!node) return null;
    const hd = /^H[1-3]$/.test(node.tagName) ? node : node.querySelector('h1, h2, h3');
    return [anchor, node, hd];
  };
  let found = 0;
  for (const part of parts) {
    const p = document.createElement('div');
    p.className = 'part';
    p.textContent = part.caption;
    if (part.caption) nav.appendChild(p);
    for (const [doc, level] of part.docs) {
      const hit = heading(doc);
      if (!hit) continue;
      const [anchor, section, hd] = hit;
      found += 1;
      if (level === 'chapter' && doc !== rootDoc) section.classList.add('seqlab-chapter');
      const line = document.createElement('div');
      line.className = level;
      const a = document.createElement('a');
      a.href = '#' + (section.id || anchor.id);
      a.textContent = hd.textContent.replace(/[#¶]\\s*$/, '').trim();
      line.appendChild(a);
      nav.appendChild(line);
    }
  }
  if (themeToc && themeToc.querySelector('#jb-print-toc a')) themeToc.classList.add('seqlab-toc-page');
  else article.insertBefore(nav, article.firstChild);
  for (const img of document.images) img.loading = 'eager';
  return found;
}
"""

WAIT_JS = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  await document.fonts.ready;
  return document.querySelectorAll('mjx-container').length;
}
"""

FOOTER = ('<div style="font-size:8px; width:100%; text-align:center; color:#555;">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def toc_parts(root: Path) -> tuple[str, list[dict]]:
    """``(title, parts)`` from ``_config.yml`` and ``_toc.yml``: each part its caption and its
    documents, each ``(docname, "chapter" | "lesson")``; the root page is a part of its own."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    parts = [{"caption": "", "docs": [[toc["root"], "chapter"]]}]
    for part in toc.get("parts", []) or [{"caption": "", "chapters": toc.get("chapters", [])}]:
        docs = []
        for chapter in part.get("chapters", []):
            docs.append([chapter["file"], "chapter"])
            docs.extend([section["file"], "lesson"] for section in chapter.get("sections", []))
        parts.append({"caption": part.get("caption", ""), "docs": docs})
    return config.get("title", ""), parts


def serve_folder(folder: Path, aliases: dict[str, Path] | None = None):
    """Serve ``folder`` on a free localhost port in a daemon thread, quietly; ``aliases`` maps URL
    paths to files. Returns ``(server, base_url)``; call ``server.shutdown()`` when done."""
    aliases = aliases or {}

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            alias = aliases.get(path.split("?", 1)[0])
            return str(alias) if alias is not None else super().translate_path(path)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def print_book(build: Path, root: Path | None = None, out: Path | None = None) -> Path:
    """Print ``<build>/singlehtml`` into ``<build>/pdf/sequence-models.pdf`` (or ``out``) and copy it
    into ``<build>/html`` when the site is there, where the intro page links it."""
    build = Path(build)
    root = Path(root) if root is not None else build.resolve().parent
    single = build / "singlehtml"
    title, parts = toc_parts(root)
    page_file = single / f"{parts[0]['docs'][0][0]}.html"  # the root document holds every page
    if not page_file.is_file():
        raise SystemExit(f"no single-page build in {single}: run `jupyter-book build . --builder singlehtml` "
                         "first (`make pdf` does)")
    chromium = find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        raise SystemExit(HINT)
    out = Path(out) if out is not None else build / "pdf" / PDF_NAME
    out.parent.mkdir(parents=True, exist_ok=True)

    # singlehtml writes the root document at its own path (book/00-intro/index.html) but with every
    # link relative to the build's top (_static/, _images/): serve it as the top's page.
    server, base = serve_folder(single, {"/": page_file, "/index.html": page_file})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            try:
                page = browser.new_page()
                page.goto(f"{base}/index.html",
                          wait_until="load", timeout=300_000)
                page.add_style_tag(content=PRINT_CSS)
                found = page.evaluate(TOC_JS, [title, parts, parts[0]["docs"][0][0]])
                if found == 0:
                    raise SystemExit("the single page holds none of _toc.yml's documents")
                page.emulate_media(media="print")
                page.evaluate(WAIT_JS)
                page.pdf(path=str(out), format="A4", print_background=True, outline=True, tagged=True,
                         display_header_footer=True, header_template="<div></div>", footer_template=FOOTER,
                         margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"})
            finally:
                browser.close()
    finally:
        server.shutdown()
    site = build / "html"
    if site.is_dir():
        shutil.copyfile(out, site / PDF_NAME)
    return out


