"""Maintainers' commands: reference tables, notebook headers, the ``#@save`` exporter."""
