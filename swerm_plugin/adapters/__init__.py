"""Old import paths kept for users who were told about them; the code lives elsewhere now.

``swerm_plugin.adapters.minisweagent.SwermAgent`` is the one path documented before the readers
moved to :mod:`swerm_plugin.readers`; it still works, with a deprecation warning.
"""
