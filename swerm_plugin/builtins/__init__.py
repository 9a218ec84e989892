"""swerm's default behaviour, written as ordinary plugins on the same hooks a third party uses.

Each module here implements hooks and nothing else; the work lives in the library packages. The
plugin manager registers them after third-party plugins (``BUILTIN_PLUGINS`` in
:mod:`swerm_plugin.plugins.manager`), and the pipeline defaults are ``trylast``, so a plugin that
returns a value wins.
"""
