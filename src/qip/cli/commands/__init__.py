"""One module per group of `qip` commands, each imported only when one of its commands runs."""
