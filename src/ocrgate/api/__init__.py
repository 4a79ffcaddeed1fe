"""HTTP edge: the DashScope-native and OpenAI-compatible dialects over one service."""
