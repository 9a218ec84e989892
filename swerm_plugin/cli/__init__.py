"""The ``swerm`` command line: one module per command group, each a thin body over library
functions; the commands are added through ``swerm_register_commands`` (the built-in ones by
:mod:`swerm_plugin.builtins.commands`)."""

from swerm_plugin.cli.app import cli, main

__all__ = ["cli", "main"]
