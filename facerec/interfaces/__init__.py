"""Interfaces: the command line's shared parts and commands (cli.py, at the top of the repository,
is the `facerec` command itself) and the HTTP API (``server``): parse, call the library, format."""
