"""The ``dpok`` command line: one module per command group."""
