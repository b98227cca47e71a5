"""Sub-commands of the mrbook CLI (see mrbook.cli)."""
