from converter.cli import cli

cli(prog_name="python -m converter")
