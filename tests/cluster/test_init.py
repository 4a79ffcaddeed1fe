"""Ray stays optional: the default install, the single-process server and ``ocrgate batch``
never import it, and ``--ray`` without the extra says how to install it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cluster.conftest import driver_env
from tests.conftest import LEAN_DISABLED, render_lines

NO_RAY = """
import sys
from ocrgate.cli import build_parser
build_parser().parse_args(["serve", "--ray", "--replicas", "2"])
from ocrgate.api.app import create_app
from ocrgate.config import Settings
from ocrgate.engines.embedded import EmbeddedSettings
from ocrgate.service import OcrService
import ocrgate.batch.cli, ocrgate.batch.local, ocrgate.library, ocrgate.cluster.options
settings = Settings(data_dir=sys.argv[1], workers=0,
                    engine=EmbeddedSettings(warm_up=False, disabled_tasks=sys.argv[2].split(",")))
app = create_app(settings, service=OcrService(settings, serving=True))
loaded = sorted(m for m in sys.modules if m == "ray" or m.startswith("ray."))
print("ray modules:", loaded)
sys.exit(1 if loaded else 0)
"""


def test_the_server_and_the_cli_do_not_import_ray(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", NO_RAY, str(tmp_path), ",".join(LEAN_DISABLED)],
                          capture_output=True, text=True, encoding="utf-8", timeout=300, env=driver_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ray_flag_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "ray"  # an importable "ray" that is not there, as without the extra
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    env = driver_env({"OCRGATE_DATA_DIR": str(tmp_path / "data")})
    env["PYTHONPATH"] = f"{shadow.parent}:{env['PYTHONPATH']}"
    page = tmp_path / "page.png"
    render_lines(["one page"]).save(page)
    for argv in (["serve", "--ray"], ["batch", str(page), "--out", str(tmp_path / "out"), "--ray"]):
        proc = subprocess.run([sys.executable, "-m", "ocrgate.cli", *argv], capture_output=True,
                              text=True, encoding="utf-8", timeout=120, env=env)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        said = " ".join((proc.stdout + proc.stderr).split())
        assert "Ray is not installed" in said and "pip install 'ocrgate[ray]'" in said, said


def test_bad_cluster_flags_are_refused(tmp_path: Path) -> None:
    env = driver_env({"OCRGATE_DATA_DIR": str(tmp_path / "data")})
    proc = subprocess.run([sys.executable, "-m", "ocrgate.cli", "serve", "--ray", "--autoscale", "4"],
                          capture_output=True, text=True, encoding="utf-8", timeout=120, env=env)
    assert proc.returncode == 2 and "--autoscale takes MIN:MAX" in proc.stderr, proc.stderr
