"""pytest plugin for the nbval run of `make test` (no need to read).

nbval compares every output of a re-executed chapter with the saved one. Plotly figures are left
out: their JSON output here, their HTML by tests/nbval_sanitize.cfg (it has random element ids).
nbval already leaves out widget outputs.
"""

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def pytest_collection_modifyitems(items):
    for notebook in {item.parent for item in items}:
        if hasattr(notebook, "skip_compare") and PLOTLY_MIME not in notebook.skip_compare:
            notebook.skip_compare = (*notebook.skip_compare, PLOTLY_MIME)
