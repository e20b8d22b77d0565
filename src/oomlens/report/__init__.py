"""HTML pages of ``oomlens top --html`` and ``oomlens postmortem --html``.

:mod:`oomlens.report.view` turns analysis results into what a page shows (standard library only);
:mod:`oomlens.report.page` renders it (Jinja2 + plotly: the ``html`` extra). Neither writes files: the CLI
does (``oomlens.cli.html``).
"""
