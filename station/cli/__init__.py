"""The ``station`` command line: one module per command group, imported only when it runs."""
