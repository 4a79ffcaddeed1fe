"""OCR engines behind one small interface (see :mod:`ocrgate.engines.base`)."""
