"""Finding and starting a step's program: its console script (or this Python running its
entry), the held form that waits before its ``main()`` until released, and the environment
every step gets (``THAR_ROOT``, the sandbox's own programs first on ``PATH``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .layout import Sandbox
    from .steps import Step

__all__ = ["bin_dir", "child_env", "command", "held_command", "installed"]


def installed(module: str) -> bool:
    """Whether ``module`` is there to import, found without importing anything: importing a
    package runs its ``__init__``, and the apiserver's alone costs a quarter of a second."""
    top, _, rest = module.partition(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if not rest:
        return True
    for location in spec.submodule_search_locations or ():
        path = Path(location, *rest.split("."))
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return True
    return False


def bin_dir() -> Path:
    """Where thar's console scripts are: beside this Python's executable."""
    return Path(sys.executable).parent


def command(step: Step) -> list[str]:
    """The step's program: its console script, else one on PATH, else this Python running its entry."""
    script = bin_dir() / step.program
    if os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which(step.program)
    if found:
        return [found]
    module, _, function = step.entry.partition(":")
    return [sys.executable, "-c", f"import sys; from {module} import {function}; sys.exit({function}())"]


# The apiserver's program when it is started early and held: its imports (aiohttp, the model),
# most of its start-up, run while storewolf seeds the datastore; its main() waits for "go" on
# stdin, so the datastore is opened only once storewolf is done. End of input: exit unstarted.
# Any held step first imports the modules of its preload list that it gets to before "go": a
# release is never delayed by a preload the run may not need.
_HELD = (
    "import os, sys\n"
    "from {module} import {function} as main\n"
    "def preload():\n"
    "    import importlib, select\n"
    "    for name in {preload!r}:\n"
    "        if select.select([0], [], [], 0)[0]:\n"
    "            return  # released (or stopped): the program imports what it needs itself\n"
    "        try:\n"
    "            importlib.import_module(name)\n"
    "        except Exception:\n"
    "            pass  # the program imports it again when it needs it, and reports what fails\n"
    "preload()\n"
    "del preload\n"
    "go = os.read(0, 1)\n"
    "os.close(0)\n"
    "os.open(os.devnull, os.O_RDONLY)\n"
    "sys.argv[0] = {program!r}\n"
    "sys.exit(main() if go == b'1' else 0)\n"
)


def held_command(step: Step, preload: Sequence[str] = ()) -> list[str]:
    """The step's program, started now and held before its main() until released; while held,
    it imports ``preload`` too, one module after the other until it is released (a module that
    fails to import, or is not reached, is left to the program)."""
    module, _, function = step.entry.partition(":")
    code = _HELD.format(module=module, function=function, program=step.program, preload=tuple(preload))
    return [sys.executable, "-c", code]


def child_env(sandbox: Sandbox, first: Sequence[Path] = (), extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every step: THAR_ROOT, and on PATH first ``first`` (this boot's own
    programs), the sandbox's own programs (``DIR/usr/bin``: the shell form of
    ``thar-record-restart``), then thar's; ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS")}
    env["THAR_ROOT"] = str(sandbox.root)
    dirs = [*map(str, first), str(sandbox.usr_bin), str(bin_dir()), env.get("PATH", os.defpath)]
    env["PATH"] = os.pathsep.join(dirs)
    env.update(extra or {})
    return env
