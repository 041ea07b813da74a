"""The `lexsent` command line: one module per subcommand, each with a `register` function."""
