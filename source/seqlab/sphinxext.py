"""Sphinx extension of the course site (named in ``_config.yml`` under ``sphinx.local_extensions``).

Whatever command builds the book (``jupyter-book build .``, ``make book``, the tests), the HTML
builders get MathJax 3 from the seqlab cache: the pinned npm tarball is fetched once with
``npm pack`` and checked by sha256 (:func:`seqlab.course.install_mathjax`), and its folder is
added to ``html_static_path``, so ``_static/mathjax/tex-chtml.js`` (``mathjax_path``) is in every
site and formulas typeset offline. When MathJax cannot be had, the build stops with a message that
says what to install: there is never a site whose formulas show as raw TeX.
"""

from __future__ import annotations

HTML_FORMAT = "html"  # html, dirhtml and singlehtml builders
MATHJAX_PATH = "mathjax/tex-chtml.js"


def _add_mathjax(app) -> None:
    from sphinx.errors import ExtensionError

    if getattr(app.builder, "format", None) != HTML_FORMAT:
        return
    from seqlab.course import install_mathjax
    from seqlab.data.cache import MissingDataError

    try:
        static_root = install_mathjax()
    except (MissingDataError, OSError) as err:
        raise ExtensionError(
            "No site without math: the formulas need MathJax, which the build installs once from npm "
            f"and then serves offline. It could not be installed. {err}"
        ) from err
    if app.config.mathjax_path != MATHJAX_PATH:
        raise ExtensionError(f"_config.yml must set mathjax_path: {MATHJAX_PATH} (the MathJax this build ships); "
                             f"it is {app.config.mathjax_path!r}")
    script = static_root / MATHJAX_PATH
    if not script.is_file():
        raise ExtensionError(f"MathJax was installed into {static_root} but {script} is missing")
    paths = list(app.config.html_static_path)
    if str(static_root) not in paths:
        # Static folders are copied in order, later ones over earlier: ours first, so a course's own
        # _static/ could still override a file on purpose.
        app.config.html_static_path = [str(static_root), *paths]


def setup(app):
    app.connect("builder-inited", _add_mathjax)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
