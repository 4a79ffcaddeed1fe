"""Batch jobs: the Batch API's input checks (jsonl.py), one line run through the service
(lines.py), the runner that works through batches with leases on the store (runner.py) and
assembles their output and error files (output.py); and ``ocrgate batch`` for folders and
PDFs (cli.py: in-process, or through a server's Batch API)."""
