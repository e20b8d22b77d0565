"""Markers of the oomreport tests (registered here so that `filterwarnings = error` accepts them)."""


def pytest_configure(config):  # type: ignore[no-untyped-def]
    config.addinivalue_line(
        "markers", "streaming: parses hundreds of MiB in a child process to bound its memory "
                   "(a few seconds; deselect with -m 'not streaming')")
