# ocrgate in a container: the README's plain pip path on Debian slim.
#   docker build -t ocrgate .
#   docker run -p 8000:8000 -e OCRGATE_API_KEYS=sk-change-me ocrgate
# Without OCRGATE_API_KEYS the server accepts any key and listens on 127.0.0.1 only (the
# health check still passes; nothing outside the container reaches it).
# Not built or tested by this repository's CI: no base image can be pulled there.

FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir 'build>=1.2,<2' && python -m build --wheel --outdir /dist

FROM python:3.11-slim-bookworm
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OCRGATE_HOME=/opt/ocrgate \
    OCRGATE_HOST=0.0.0.0
# multi_lan's Tesseract traineddata (the tesserocr wheel bundles libtesseract)
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr-kor tesseract-ocr-ara tesseract-ocr-rus tesseract-ocr-ukr \
      tesseract-ocr-vie tesseract-ocr-jpn \
 && rm -rf /var/lib/apt/lists/*
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install /tmp/dist/ocrgate-*.whl && rm -rf /tmp/dist
# The model files into $OCRGATE_HOME, owned by root and read-only for the service. The
# formula export builds a throw-away venv with torch in /tmp (minutes, several GB while
# it runs) and deletes it in this same layer, so the image keeps only its ONNX output.
RUN ocrgate models install && ocrgate doctor
RUN useradd --create-home --uid 10001 ocrgate
USER ocrgate
WORKDIR /home/ocrgate
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["ocrgate", "serve"]
