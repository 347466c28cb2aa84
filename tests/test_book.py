"""The site: builds with every notebook executed (fast profile), searchable in Chinese,
with Colab buttons, a bibliography, and numbers in the prose that the notebooks computed."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PDF_NAME = "sequence-models.pdf"


def toc_files() -> list[str]:
    return re.findall(r"(?:root|file):\s*(\S+)", (ROOT / "_toc.yml").read_text(encoding="utf-8"))


NOTEBOOKS = [f for f in toc_files() if (ROOT / f"{f}.ipynb").exists()]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    # A plain `jupyter-book build .` (only output and strictness flags added): nothing runs before it,
    # MathJax comes from the book's own Sphinx extension (seqlab.sphinxext).
    shutil.rmtree(ROOT / "_static" / "mathjax", ignore_errors=True)  # left by older `make book`s
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, SEQLAB_PROFILE="fast", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("MPLBACKEND", None)  # notebook kernels must keep their inline backend to show plots
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", ".",
                           "--path-output", str(out), "-W", "-n", "--keep-going"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=3000)
    log = proc.stdout[-6000:] + proc.stderr[-6000:]
    assert proc.returncode == 0, f"jupyter-book build failed:\n{log}"
    return out / "_build"


def page_text(site: Path, doc: str) -> str:
    raw = (site / "html" / f"{doc}.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


def test_every_toc_entry_exists_and_there_are_notebooks():
    for f in toc_files():
        assert (ROOT / f"{f}.md").exists() or (ROOT / f"{f}.ipynb").exists(), f
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("doc", NOTEBOOKS)
def test_notebook_executed_without_errors(site, doc):
    from jupyter_cache import get_cache

    cache = get_cache(site / ".jupyter_cache")
    records = {Path(r.uri).resolve(): r for r in cache.list_cache_records()}
    record = records.get((ROOT / f"{doc}.ipynb").resolve())
    assert record is not None, f"{doc} was not executed successfully"
    assert record.data["execution_seconds"] > 0
    raw = (site / "html" / f"{doc}.html").read_text(encoding="utf-8")
    assert "cell_output" in raw and "Traceback" not in raw
    assert "missing from font" not in raw.lower(), f"{doc} draws Chinese text without a CJK font (tofu boxes)"


def test_plots_are_rendered(site):
    raw = (site / "html" / "book/01-embedding/02-skip-gram.html").read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', raw)
    assert len([src for src in images if "_images/" in src]) >= 2, images
    for src in images:
        assert (site / "html" / "book/01-embedding" / src).resolve().is_file(), src


def test_chinese_full_text_search(site):
    text = (site / "html" / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    for word in ("嵌入", "詞向量", "負取樣", "獨熱編碼"):
        assert word in index["terms"], f"search finds no page for {word}"
    assert index["terms"]["詞向量"]  # a non-empty list of pages


def test_colab_button_points_at_the_configured_repository(site):
    from seqlab.course import repository

    url, branch = repository(ROOT)
    repo = url.removeprefix("https://github.com/")
    for doc in NOTEBOOKS:
        raw = (site / "html" / f"{doc}.html").read_text(encoding="utf-8")
        assert f"https://colab.research.google.com/github/{repo}/blob/{branch}/{doc}.ipynb" in raw, doc


def test_language_bibliography_and_glossary(site):
    index = (site / "html" / "book/00-intro/index.html").read_text(encoding="utf-8")
    assert 'lang="zh-TW"' in index or 'lang="zh_TW"' in index
    assert "Mikolov" in page_text(site, "book/references")
    assert "獨熱編碼" in page_text(site, "book/glossary")


def test_numbers_in_the_prose_are_the_ones_the_notebook_printed(site):
    text = page_text(site, "book/01-embedding/02-skip-gram")
    prose = re.search(r"跳躍式模型的鄰近詞 P@5 是\s*([\d.]+)%\s*、類比正確率\s*([\d.]+)%\s*；PPMI \+ SVD 分別是\s*([\d.]+)%\s*與\s*([\d.]+)%", text)
    assert prose, "the glued sentence with the scores is missing"
    table_sgns = re.search(r"跳躍式模型（SGNS）\s+([\d.]+)%\s+([\d.]+)%", text)
    table_ppmi = re.search(r"PPMI \+ SVD（基準）\s+([\d.]+)%\s+([\d.]+)%", text)
    assert table_sgns and table_ppmi
    assert prose.groups() == table_sgns.groups() + table_ppmi.groups()


def test_a_notebook_that_raises_fails_the_build(tmp_path):
    import nbformat

    shutil.copy(ROOT / "_config.yml", tmp_path)
    shutil.copy(ROOT / "references.bib", tmp_path)
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "index.md").write_text("# 首頁\n", encoding="utf-8")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 會出錯的筆記本"), nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(nb, tmp_path / "book" / "broken.ipynb")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n  - file: book/broken\n", encoding="utf-8")
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", "."], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"))
    assert proc.returncode != 0
    assert "ZeroDivisionError" in proc.stdout + proc.stderr


def test_no_page_has_a_broken_internal_link(site):
    html_root = site / "html"
    broken = []
    for page in html_root.rglob("*.html"):
        if "_static" in page.relative_to(html_root).parts:
            continue  # theme templates, not pages
        for href in re.findall(r'(?:href|src)="([^"#?]+)(?:[#?][^"]*)?"', page.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", href) or href.startswith("//"):
                continue  # external (http:, mailto:, data:)
            if href.endswith(PDF_NAME):
                continue  # `make pdf` puts it there after the site; test_the_intro_page_links_the_pdf checks it
            target = (page.parent / html.unescape(href)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(html_root)} -> {href}")
    assert not broken, broken[:10]


BROWSER_HINT = ("the browser test needs Chromium and Playwright: `apt-get install chromium` and "
                "`pip install -r requirements.txt` (playwright); .ci/run installs Chromium on CI")


@pytest.fixture(scope="module")
def browser(site):
    from seqlab.course_pdf import find_chromium, serve_folder

    chromium = find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail(BROWSER_HINT)
        pytest.skip(BROWSER_HINT)
    server, base = serve_folder(site / "html")
    screens = ROOT / "_build" / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = b.new_page(viewport={"width": 1280, "height": 900})
        yield page, base, screens
        b.close()
    server.shutdown()


def test_in_a_browser_a_chapter_shows_chinese_math_and_a_plot(browser):
    page, base, screens = browser
    page.goto(f"{base}/book/02-rnn/02-bptt-and-clipping.html")
    page.wait_for_function("document.querySelectorAll('mjx-container').length >= 5", timeout=30_000)
    rendered = page.evaluate("Array.from(document.querySelectorAll('mjx-container'))"
                             ".filter(e => e.getBoundingClientRect().width > 0).length")
    assert rendered >= 5, "MathJax (served from _static/mathjax) did not typeset the formulas"
    assert page.evaluate("document.querySelector('mjx-container mjx-math') !== null")
    prose = page.evaluate("Array.from(document.querySelectorAll('main p, main div.math')).map(e => e.innerText).join(' ')")
    assert "\\frac" not in prose and "\\partial" not in prose, "raw TeX left in the page: MathJax did not typeset it"
    assert "梯度" in page.inner_text("main")
    plots = page.locator(".cell_output img")
    assert plots.count() >= 1
    plots.first.scroll_into_view_if_needed()
    assert page.evaluate("img => img.complete && img.naturalWidth > 100", plots.first.element_handle())
    page.screenshot(path=str(screens / "chapter-bptt.png"), full_page=False)


def test_in_a_browser_the_colab_button_points_at_the_repository(browser):
    from seqlab.course import repository

    page, base, screens = browser
    url, branch = repository(ROOT)
    page.goto(f"{base}/book/03-lstm-gru/04-title-generator.html")
    hrefs = page.eval_on_selector_all("a[href*='colab.research.google.com']", "els => els.map(e => e.href)")
    repo = url.removeprefix("https://github.com/")
    assert f"https://colab.research.google.com/github/{repo}/blob/{branch}/book/03-lstm-gru/04-title-generator.ipynb" in hrefs
    page.screenshot(path=str(screens / "title-generator.png"))


def test_in_a_browser_searching_gradient_lists_the_rnn_chapter(browser):
    page, base, screens = browser
    page.goto(f"{base}/search.html?q=%E6%A2%AF%E5%BA%A6")  # 梯度
    page.wait_for_selector("#search-results li a", timeout=30_000)
    links = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")
    assert any("/book/02-rnn/" in link for link in links), links[:10]
    page.screenshot(path=str(screens / "search-gradient.png"))


# ---- the PDF (make pdf): the single-page build printed by the same headless Chromium ----

PDF_HINT = ("the PDF test needs Chromium, Playwright, Noto CJK fonts and poppler's pdftotext: "
            "`apt-get install chromium fonts-noto-cjk poppler-utils`; .ci/run installs them on CI")


def _chapter_indexes() -> list[Path]:
    return sorted(ROOT.glob("book/0[1-9]-*/index.md"))


def _first_sentence(markdown: Path) -> str:
    """The first Chinese prose sentence after a chapter's title, markup removed."""
    for line in markdown.read_text(encoding="utf-8").splitlines()[1:]:
        line = re.sub(r"\{\w+\}`[^`]*`|`[^`]*`|\$[^$]*\$|\*\*|[\[\]]|\([^)]*\.(?:md|ipynb)\)", "", line).strip()
        if re.search(r"[\u4e00-\u9fff]{6}", line) and not line.startswith(("#", "|", ":", "```", "-")):
            return re.split(r"[，。：；！？]", line)[0]
    raise AssertionError(f"{markdown} has no prose line")


@pytest.fixture(scope="module")
def pdf(site) -> dict:
    from seqlab.course_pdf import PDF_NAME as pdf_name
    from seqlab.course_pdf import find_chromium

    tools = [find_chromium(), shutil.which("pdftotext"), shutil.which("pdfinfo")]
    if None in tools or not shutil.which("fc-list") or "CJK" not in subprocess.run(
            ["fc-list"], capture_output=True, text=True).stdout:
        if os.environ.get("CI"):
            pytest.fail(PDF_HINT)
        pytest.skip(PDF_HINT)
    out = site.parent
    env = dict(os.environ, SEQLAB_PROFILE="fast", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("MPLBACKEND", None)
    # the same --path-output as the site: notebooks come from its execution cache, not run again
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "--builder", "singlehtml",
                           "--path-output", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, f"singlehtml build failed:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
    # as `make pdf` does, in its own process (the browser fixture's Playwright is still running in this one)
    proc = subprocess.run([sys.executable, "-m", "seqlab.course", "pdf", "--root", str(ROOT), "--build", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"printing the PDF failed:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
    path = site / "pdf" / pdf_name
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return {"path": path, "info": dict(re.findall(r"^([^:]+):\s*(.*)$", info, re.M)), "text": text,
            "flat": re.sub(r"\s+", "", text)}


def test_the_pdf_is_an_a4_book_with_page_numbers_and_an_outline(pdf):
    pages = int(pdf["info"]["Pages"])
    assert pages >= 150, pdf["info"]
    assert "A4" in pdf["info"]["Page size"]
    assert f"1 / {pages}" in pdf["text"] and f"{pages} / {pages}" in pdf["text"], "footer page numbers missing"
    assert b"/Outlines" in pdf["path"].read_bytes(), "no PDF outline (bookmarks)"


def test_the_pdf_has_every_chapter_and_its_chinese_text(pdf):
    flat = pdf["flat"]
    assert "目錄" in flat, "no table of contents"
    for index in _chapter_indexes():
        title = index.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        assert re.sub(r"\s+", "", title) in flat, f"chapter {title!r} is not in the PDF"
        sentence = re.sub(r"\s+", "", _first_sentence(index))
        assert sentence in flat, f"Chinese prose of {index.parent.name} lost in the PDF: {sentence!r}"
    # a lesson's prose and a glued number next to its words, from notebooks (not only the Markdown pages)
    assert re.search(r"跳躍式模型的鄰近詞P@5是[\d.]+%", flat), "the skip-gram lesson's glued sentence is missing"
    assert len(re.findall(r"[\u4e00-\u9fff]", pdf["text"])) > 100_000


def test_the_pdf_has_typeset_formulas_and_plots(pdf):
    text = pdf["text"]
    prose = re.sub(r"set_[xy]?label\(r\"[^\n]*|set_title\(r\"[^\n]*", "", text)  # raw TeX in plotting code is fine
    assert "\\frac" not in prose and "\\sum" not in prose and "\\[" not in prose, "raw TeX in the PDF"
    assert text.count("∂") >= 20 and "tanh" in text, "typeset formulas (∂, tanh) missing"
    images = len(re.findall(rb"/Subtype\s*/Image", pdf["path"].read_bytes()))
    assert images >= 30, f"only {images} images (plots) in the PDF"


def test_the_intro_page_links_the_pdf(site, pdf):
    intro = site / "html" / "book/00-intro/index.html"
    hrefs = [h for h in re.findall(r'href="([^"]+)"', intro.read_text(encoding="utf-8")) if h.endswith(PDF_NAME)]
    assert hrefs, "the intro page has no link to the PDF"
    assert all((intro.parent / h).resolve() == (site / "html" / PDF_NAME).resolve() for h in hrefs), hrefs
    assert (site / "html" / PDF_NAME).read_bytes() == pdf["path"].read_bytes()
