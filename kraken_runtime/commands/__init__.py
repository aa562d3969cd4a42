"""One module per subcommand. Each exposes `register(subparsers)`, which adds its parser and sets
`func=run` where `run(args) -> int` returns an exit code from kraken_runtime.exitcodes."""
