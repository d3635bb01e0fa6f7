"""The Python API of a running stack (local or on AWS): uploads, records, listing, metrics, dead letters.

Runs on an operator's machine; the command line and the dashboard are built on it. Never shipped to Lambda.
"""
