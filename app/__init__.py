"""LSTM forecasting service."""

__version__ = "0.1.0"
