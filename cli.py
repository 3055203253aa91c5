"""The ``facerec`` command's entry: ``python cli.py ...`` runs what the installed command runs.

The commands live in :mod:`facerec.interfaces.cli`; this file stays at the top of the repository
(and is carried in the wheel as ``facerec/cli.py``) so that both ways of starting them keep working.
"""

from facerec.interfaces.cli import app

if __name__ == "__main__":
    app()
