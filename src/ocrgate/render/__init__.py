"""Renderers: an OcrResult becomes each dialect's response (native, compatible, CLI)."""
