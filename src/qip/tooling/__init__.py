"""Building and deploying: the Lambda artifact, CloudFormation change sets, AWS targets, the local engine.

Runs on a developer's or CI machine only; never shipped to Lambda.
"""
