"""The ``facerec`` command: parse options, call the library, format text or JSON, map errors to exit codes.

Conventions every command follows:
- ``--json`` puts only the JSON document on stdout; progress, logs and warnings go to stderr.
- Options that apply to every command (``--threads``, ``--device``, ``--model``) are accepted before
  the command and after it; the one given after the command wins.
- Scores are cosine similarities of unit vectors (1 = identical direction); where a formula needs
  the squared L2 distance of two unit vectors, it is ``2 - 2 * similarity``.
- With several inputs, a file that fails is reported (a line on stderr, an ``error`` entry in the
  JSON) and the others go on; the exit code is then 1. Usage errors exit with 2.

``app`` (in :mod:`.main`) is the command: the installed ``facerec`` script and the tests run it
from here, and ``cli.py`` at the top of the repository is its thin entry. Each topic's module
registers its commands on it when imported below; the order of the imports is the order of
``facerec --help``.
"""

from facerec.interfaces.cli.main import app

# isort: off
# Topic by topic, in the order `facerec --help` lists them: each module registers its commands on import.
from facerec.interfaces.cli import detection, embedding, recognition, people, maintenance  # noqa: F401
from facerec.interfaces.cli import events, attendance, groups, audit, api_keys, serve  # noqa: F401
from facerec.interfaces.cli import privacy, training  # noqa: F401
# isort: on

__all__ = ["app"]
