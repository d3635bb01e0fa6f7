"""`qip`, the operator's command line: start the local stack, deploy to AWS, upload, follow images."""
