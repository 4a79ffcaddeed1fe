"""Build-time tools: they produce model files and are imported by nothing the server runs."""
