"""Print the runtime dependencies listed in pyproject.toml, one per line (for pip -r).

The image installs these in a layer of their own, before the code is copied, so a change to
the code does not download and install every dependency again.
"""

import sys
import tomllib
from pathlib import Path

path = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
print("\n".join(project["dependencies"]))
