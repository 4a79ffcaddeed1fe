"""ocrgate: a self-hosted OCR service speaking the Qwen-OCR API."""

__version__ = "0.1.0"
