"""Accuracy measurement: metrics and the ``ocrgate eval`` runner."""
