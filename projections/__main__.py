from projections.cli import cli

cli(prog_name="python -m projections")
