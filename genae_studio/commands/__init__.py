"""The subcommands of ``genae-studio``, one module each.

Each module has ``add_arguments(parser)`` (argparse only: the modules import nothing heavy at
the top, so ``genae-studio --help`` loads neither torch nor Qt) and ``main(args)``, which
loads the plugins when it needs them and returns the exit code. :mod:`genae_studio.cli`
builds the parser from them and dispatches; :mod:`.common` holds what several commands share
(option types, output checks, loading a run).
"""
