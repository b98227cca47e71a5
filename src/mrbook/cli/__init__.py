"""CLI layer, the ``mrbook`` command: :mod:`.main` dispatches to one module per subcommand."""
