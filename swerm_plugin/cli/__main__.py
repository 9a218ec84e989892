"""``python -m swerm_plugin.cli``: the same as the ``swerm`` command."""

import sys

from swerm_plugin.cli.app import main

sys.exit(main())
