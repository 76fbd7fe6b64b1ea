"""``python -m mailtrace`` runs the command-line interface (as the ``mailtrace`` script does)."""

from mailtrace.entry import console

console()
