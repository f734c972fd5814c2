"""``python -m stepfn`` runs the command line."""

from stepfn.cli import main

main()
