"""`python -m ebmbench`: the command line, for environments without the console script on PATH."""

from ebmbench.cli import main

main()
