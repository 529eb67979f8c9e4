"""`python -m erpsync` is the `erpsync` command."""

from erpsync.cli import main

main()
