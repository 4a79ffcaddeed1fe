"""How the runner reaches ocrgate: in-process (``ocrgate.library.recognize``) or over HTTP.

A backend is a callable ``(image path, TaskSpec) -> Prediction``; both raise
``UnsupportedTask`` for ocrgate's 400 "not supported" answer so the runner can report
the task as unsupported instead of failing every case.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from pathlib import Path
from typing import Any

from .scoring import Prediction, TaskSpec

NATIVE_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
MODEL = "qwen-vl-ocr-latest"


class UnsupportedTask(Exception):
    """The engine answered 400 "not supported" for the task."""


def _data_url(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def _unsupported(status: int, message: str) -> bool:
    return status == 400 and "not supported" in (message or "").lower()


class InProcessBackend:
    """``ocrgate.library.recognize`` in this process (``OcrService`` made on first use)."""

    def __init__(self, engine: str | None = None, service: Any = None,
                 config_path: str | None = None) -> None:
        self.engine = engine
        self.config_path = config_path
        self._service = service

    @property
    def service(self) -> Any:
        if self._service is None:
            from ..config import load_settings
            from ..service import OcrService

            settings = load_settings(self.config_path)
            if self.engine:
                settings.default_engine = self.engine
            self._service = OcrService(settings)
        return self._service

    def __call__(self, image: Path, spec: TaskSpec) -> Prediction:
        from ..errors import OcrError
        from ..library import recognize

        try:
            rec = recognize(image, task=spec.api_task, schema=spec.schema, model=MODEL,
                            enable_rotate=spec.enable_rotate, service=self.service)
        except OcrError as err:
            if _unsupported(err.status, err.message):
                raise UnsupportedTask(err.message) from err
            raise
        return Prediction(rec.text, rec.ocr_result)

    def close(self) -> None:
        pass


class HttpBackend:
    """The native endpoint over HTTP, image as a base64 data URL (whole stack measured)."""

    def __init__(self, server: str, api_key: str | None = None, timeout_s: float = 600.0) -> None:
        import httpx

        self.url = server.rstrip("/") + NATIVE_PATH
        headers = {"Authorization": f"Bearer {api_key or os.environ.get('DASHSCOPE_API_KEY') or 'sk-ocrgate'}"}
        self.client = httpx.Client(headers=headers, timeout=timeout_s)

    def __call__(self, image: Path, spec: TaskSpec) -> Prediction:
        options: dict[str, Any] = {"task": spec.api_task}
        if spec.schema:
            options["task_config"] = {"result_schema": spec.schema}
        body = {
            "model": MODEL,
            "input": {"messages": [{"role": "user", "content": [
                {"image": _data_url(image), "enable_rotate": spec.enable_rotate}]}]},
            "parameters": {"ocr_options": options},
        }
        resp = self.client.post(self.url, json=body)
        try:
            doc = resp.json()
        except ValueError:
            doc = {}
        if resp.status_code != 200:
            message = str(doc.get("message") or resp.text[:300]) if isinstance(doc, dict) else resp.text[:300]
            if _unsupported(resp.status_code, message):
                raise UnsupportedTask(message)
            code = doc.get("code") if isinstance(doc, dict) else None
            raise RuntimeError(f"HTTP {resp.status_code} {code or ''}: {message}".replace("  ", " "))
        content = doc["output"]["choices"][0]["message"]["content"]
        item = content[0] if content else {}
        return Prediction(str(item.get("text") or ""), item.get("ocr_result"))

    def close(self) -> None:
        self.client.close()
