"""Tallyroom: municipal elections from the opening of the polls to certified results."""

__version__ = "0.1.0"
