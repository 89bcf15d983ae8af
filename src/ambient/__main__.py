"""`python -m ambient` (and `torchrun -m ambient train ...`) run the CLI."""

from ambient.cli import main

main()
