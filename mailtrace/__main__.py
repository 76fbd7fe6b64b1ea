"""``python -m mailtrace`` runs the command-line interface."""

from mailtrace.cli import main

main()
