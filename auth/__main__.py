from auth.cli import cli

cli(prog_name="python -m auth")
