"""One module per ``msdf`` sub-command.

Each module defines ``NAME`` (the sub-command), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status). The CLI discovers
them with :mod:`pkgutil`, so adding a command means adding a module here.
"""
