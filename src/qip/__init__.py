"""Quantum Image Processor: an event-driven, serverless image pipeline on AWS."""

__version__ = "0.1.0"
