"""Flower's configuration file: `celery -A tasks flower --conf=flowerconfig.py` executes it at start.

It is the one place that runs only when Flower starts, so the Flower check lives here and importing `tasks`
checks nothing: a bad setting stops Flower with one line per problem before it serves anything. Flower's own
options come from the command line and FLOWER_* variables; nothing here sets one (only names matching a Flower
option would).
"""

import os as _os

from tasks.preflight import refuse_bad_flower_settings as _refuse

_refuse(dict(_os.environ))
