"""CLI sub-commands: each module exposes HELP, add_arguments(parser) and main(args) -> int."""
