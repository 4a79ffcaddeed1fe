"""Engine worker processes (the embedded engine out of the server's process)."""
