"""Lambda handlers: each parses its event, calls the core, records the outcome. Nothing more."""
