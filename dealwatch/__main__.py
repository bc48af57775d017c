"""`python -m dealwatch …` is the same as the `dealwatch` command."""

from dealwatch.cli import main

main()
