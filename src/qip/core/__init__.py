"""What every Lambda function imports: the model, settings, the store, events, S3 access, recovery.

Shipped in the deployment zip with `qip.imaging` and `qip.functions`; it never imports the
operator's client, the command line, the dashboard or the tooling.
"""
