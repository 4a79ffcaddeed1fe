"""The two inference runtimes behind one session interface: the same answers on real crops,
the model metadata read without onnxruntime, and the per-CPU choice."""

from __future__ import annotations

import glob
import os
import threading

import numpy as np
import pytest

from ocrgate.engines.embedded.core.crop import crop_line
from ocrgate.engines.embedded.core.detector import TextDetector
from ocrgate.engines.embedded.core.recognizer import TextRecognizer
from ocrgate.engines.embedded.nets import files
from ocrgate.engines.embedded.nets import session as sessions
from ocrgate.engines.embedded.nets.onnx_meta import metadata
from tests.engines.embedded.helpers import cer, load_cases, load_rgb, render_lines

needs_openvino = pytest.mark.skipif(not sessions.openvino_available(),
                                    reason="openvino not installed (pip install 'ocrgate[openvino]')")


def test_metadata_matches_onnxruntime() -> None:
    import onnxruntime as ort

    for path in (files.recognition_model(), files.detection_model(), files.orientation_model()):
        ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert metadata(path) == dict(ref.get_modelmeta().custom_metadata_map)


def test_choice_per_cpu_and_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "openvino_available", lambda: True)
    monkeypatch.setattr(sessions, "native_bf16", lambda: True)
    assert sessions.choose("auto", "auto", openvino_when="bf16") == ("openvino", "bf16")
    assert sessions.choose("auto", "auto", openvino_when="never") == ("onnxruntime", "f32")
    assert sessions.choose("auto", "auto", openvino_when="f32") == ("openvino", "f32")
    assert sessions.choose("openvino", "auto", openvino_when="bf16") == ("openvino", "bf16")
    assert sessions.choose("auto", "bf16", openvino_when="f32") == ("openvino", "bf16")
    assert sessions.choose("auto", "f32", openvino_when="bf16") == ("onnxruntime", "f32")
    assert sessions.choose("auto", "f32", openvino_when="f32") == ("openvino", "f32")
    assert sessions.choose("openvino", "f32", openvino_when="never") == ("openvino", "f32")
    monkeypatch.setattr(sessions, "native_bf16", lambda: False)  # bf16 emulated: no gain
    assert sessions.choose("auto", "auto", openvino_when="bf16") == ("onnxruntime", "f32")
    assert sessions.choose("auto", "auto", openvino_when="f32") == ("openvino", "f32")
    monkeypatch.setattr(sessions, "openvino_available", lambda: False)
    assert sessions.choose("openvino", "auto", openvino_when="bf16") == ("onnxruntime", "f32")
    assert sessions.choose("auto", "auto", openvino_when="f32") == ("onnxruntime", "f32")
    with pytest.raises(ValueError, match="runtime"):
        sessions.choose("tensorrt", "auto", openvino_when="bf16")
    with pytest.raises(ValueError, match="openvino_when"):
        sessions.choose("auto", "auto", openvino_when="sometimes")


RENDERED = ["Runtimes must agree on every line.", "Due 2024-07-12: 3,141.59 EUR", "Zebra quartz"]


def _rendered_crops() -> list[np.ndarray]:
    page = np.ascontiguousarray(render_lines(RENDERED, (900, 260), font_size=26)[..., ::-1])
    det = TextDetector(files.detection_model(), limit_type="max", limit_side_len=1600)
    quads, _ = det(page)
    return [crop_line(page, q) for q in quads]


@needs_openvino
@pytest.mark.parametrize("precision", ["f32", "bf16"])
def test_openvino_reads_as_well_as_onnxruntime(precision: str) -> None:
    """f32: the same texts (scores within 0.03); bf16: clean rendered lines the same, and on the 40 real dev
    crops a CER no worse than onnxruntime's by more than 0.005 (bf16 rounding flips a
    character now and then: 2 of 23 crops differed in one run)."""
    path = files.recognition_model()
    ort = TextRecognizer(path, batch_num=1)
    ov = TextRecognizer(path, batch_num=1, runtime="openvino", precision=precision)
    assert ov.session.runtime == "openvino" and ov.characters == ort.characters
    rendered = _rendered_crops()
    assert [t for t, _ in ov(rendered)] == [t for t, _ in ort(rendered)]
    cases = load_cases("text_recognition")
    crops = [np.ascontiguousarray(load_rgb("text_recognition", c)[..., ::-1]) for c in cases]
    got, ref = ov(crops), ort(crops)
    if precision == "f32":
        assert [t for t, _ in got] == [t for t, _ in ref]
        # scores move a little: OpenVINO's input is padded to a width step (the network
        # mixes the whole line), measured up to 0.019
        assert max(abs(a[1] - b[1]) for a, b in zip(got, ref, strict=True)) <= 0.03
    else:
        cer_ov = np.mean([cer(t, c["ground_truth"]) for (t, _), c in zip(got, cases, strict=True)])
        cer_ort = np.mean([cer(t, c["ground_truth"]) for (t, _), c in zip(ref, cases, strict=True)])
        print(f"dev crops CER: onnxruntime {cer_ort:.4f}, openvino bf16 {cer_ov:.4f}")
        assert cer_ov <= cer_ort + 0.005


def test_crowded_workers_run_single_threaded_with_the_same_answers() -> None:
    """With other workers busy, a two-thread session runs its one-thread copy instead."""
    crops = _rendered_crops()
    rec = TextRecognizer(files.recognition_model(), intra_op_threads=2, batch_num=1)
    assert isinstance(rec.session, sessions.AdaptiveSession)
    alone = rec(crops)
    busy = [1]
    sessions.share_cores_with(lambda: busy[0])
    try:
        assert rec(crops) == alone and not rec.session.has_single  # alone: all threads
        busy[0] = 2
        crowded = rec(crops)
        assert rec.session.has_single
        assert [t for t, _ in crowded] == [t for t, _ in alone]
        assert max(abs(a[1] - b[1]) for a, b in zip(crowded, alone, strict=True)) <= 1e-4
    finally:
        sessions.share_cores_with(None)


@needs_openvino
def test_openvino_sees_widths_in_steps() -> None:
    """OpenVINO keeps memory per input shape: line widths reach it padded to a multiple of
    OPENVINO_WIDTH_STEP (and onnxruntime's unpadded), with the same texts as unpadded."""
    from ocrgate.engines.embedded.core.recognizer import OPENVINO_WIDTH_STEP

    path = files.recognition_model()
    ov = TextRecognizer(path, batch_num=1, runtime="openvino", precision="f32")
    ort = TextRecognizer(path, batch_num=1)
    widths: dict[str, list[int]] = {"openvino": [], "onnxruntime": []}
    for rec in (ov, ort):
        run = rec.session.run

        def spy(feeds, outputs=None, run=run, seen=widths[rec.session.runtime]):  # noqa: ANN001
            seen.append(next(iter(feeds.values())).shape[3])
            return run(feeds, outputs)

        rec.session.run = spy  # type: ignore[method-assign]
    crops = _rendered_crops()
    assert [t for t, _ in ov(crops)] == [t for t, _ in ort(crops)] == RENDERED
    assert all(w % OPENVINO_WIDTH_STEP == 0 for w in widths["openvino"])
    assert any(w % OPENVINO_WIDTH_STEP for w in widths["onnxruntime"])


def _thread_cpus() -> set[str]:
    """The CPU list each thread of this process may run on, right now."""
    lists = set()
    for path in glob.glob("/proc/self/task/*/status"):
        try:
            with open(path, encoding="ascii") as f:
                lists.update(line.split()[1] for line in f if line.startswith("Cpus_allowed_list"))
        except OSError:  # the thread ended meanwhile
            pass
    return lists


@needs_openvino
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to pin")
@pytest.mark.parametrize("threads", [1, 2])
def test_openvino_leaves_threads_free_to_move(threads: int) -> None:
    """OpenVINO pins inference threads to the first cores unless told not to: each engine
    worker then ran on core 0 and two workers shared one core. While it infers, every
    thread of the process may still run on every CPU the process may."""
    allowed = _thread_cpus()
    assert len(allowed) == 1  # before: every thread may run everywhere
    session = sessions.OpenVinoSession(files.recognition_model(), threads, "f32")
    x = np.random.default_rng(0).random((1, 3, 48, 960), dtype=np.float32)
    stop = threading.Event()

    def infer() -> None:
        while not stop.is_set():
            session.run({session.input_names[0]: x})

    runner = threading.Thread(target=infer)
    runner.start()
    try:
        seen: set[str] = set()
        for _ in range(40):
            seen |= _thread_cpus()
            stop.wait(0.01)
    finally:
        stop.set()
        runner.join()
    assert seen == allowed
