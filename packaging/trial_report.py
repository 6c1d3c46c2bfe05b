"""``import trial_report`` wherever the orchestrator is installed (a user's own scripts).

The helper itself is ``orchestrator.child.trial_report`` (standard library only); this
module makes the short name the very same module, so a report goes through one channel
whichever name imported it. A trial's child process finds the helper's own folder first on
``PYTHONPATH`` and never reaches this file.
"""

import sys

from orchestrator.child import trial_report as _helper

sys.modules[__name__] = _helper
