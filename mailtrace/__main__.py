"""``python -m mailtrace`` runs the command-line interface."""

from mailtrace.cli import console

console()
