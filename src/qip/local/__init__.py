"""The local engine: start it, deploy the stack to it, stop it."""
