"""Interfaces: the command line (``cli``, the `facerec` command; cli.py at the top of the repository
is its entry) and the HTTP API (``server``): parse, call the library, format."""
