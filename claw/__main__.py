# This file must parse on any Python 3 (and 2): it is the version gate. No f-strings, no annotations,
# no `from __future__ import annotations` here.
import sys

if sys.version_info < (3, 9):
    sys.stderr.write(
        "claw needs Python >= 3.9; found %d.%d.%d at %s; try: python3.11 claw.pyz\n"
        % (sys.version_info[0], sys.version_info[1], sys.version_info[2], sys.executable)
    )
    sys.exit(2)

from claw.cli.main import entry  # noqa: E402

entry()
