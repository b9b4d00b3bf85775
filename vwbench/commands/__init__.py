"""One module per `vwbench` subcommand: HELP, add_arguments(parser), run(args) -> exit code."""
