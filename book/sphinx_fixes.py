"""A Sphinx extension for the rendered book (no need to read; _config.yml loads it).

Sphinx 7 writes every inline <script> an extension adds twice (fixed in Sphinx 8.2,
sphinx-doc/sphinx#13402; Jupyter Book 1 needs Sphinx 7): the second
`const THEBE_JS_URL = ...` of sphinx-thebe is a SyntaxError on every page. Each page keeps the
first copy of every script.
"""

from __future__ import annotations


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # the two copies differ only in filename: None (inline, added late) against ''
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"][:] = kept
