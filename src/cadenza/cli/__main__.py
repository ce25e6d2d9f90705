"""`python -m cadenza.cli`: the `cadenza` command."""

from cadenza.cli import app

app()
