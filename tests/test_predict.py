"""A photo in any common format reaches the model as the training data did; bad files give clear errors."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from PIL import Image

from utils import predict

SIZE = (16, 24)  # (height, width) of the tiny test model


class MeanRedModel:
    """Stands for a Keras model: P(dog) = mean of the red channel / 255; records its input."""

    input_shape = (None, SIZE[0], SIZE[1], 3)

    def __init__(self):
        self.seen = None

    def __call__(self, images, training=False):
        images = np.asarray(images)
        self.seen = images
        return images[..., 0].mean(axis=(1, 2)).reshape(-1, 1) / 255.0


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _half_red(width=40, height=20) -> Image.Image:
    """Left half red, right half blue: orientation becomes visible."""
    array = np.zeros((height, width, 3), np.uint8)
    array[:, : width // 2, 0] = 255
    array[:, width // 2:, 2] = 255
    return Image.fromarray(array, "RGB")


@pytest.mark.parametrize("fmt,mode", [
    ("JPEG", "RGB"), ("JPEG", "L"), ("JPEG", "CMYK"), ("PNG", "RGB"), ("PNG", "RGBA"),
    ("PNG", "L"), ("PNG", "P"), ("WEBP", "RGB"), ("GIF", "P"), ("BMP", "RGB"),
])
def test_every_common_format_gives_the_model_input(tmp_path, fmt, mode):
    image = _half_red().convert(mode)
    path = tmp_path / f"photo.{fmt.lower()}"
    path.write_bytes(_encode(image, fmt))
    model = MeanRedModel()
    answer = predict.predict_image(model, path)
    assert model.seen.shape == (1, SIZE[0], SIZE[1], 3) and model.seen.dtype == np.float32
    assert 0.0 <= model.seen.min() and model.seen.max() <= 255.0
    p_dog = float(model.seen[0, ..., 0].mean() / 255.0)
    assert answer["p_dog"] == pytest.approx(p_dog, rel=1e-6), "the model's output, unchanged"
    assert answer["probability"] == pytest.approx(max(p_dog, 1 - p_dog), rel=1e-6)
    assert answer["label"] == ("cats", "dogs")[int(p_dog > 0.5)]
    np.testing.assert_array_equal(answer["image"], model.seen[0])
    if mode != "L":  # in colour, the red half stays on the left (no channel or axis swapped)
        left, right = model.seen[0, :, : SIZE[1] // 2 - 1], model.seen[0, :, SIZE[1] // 2 + 1:]
        assert left[..., 0].mean() > 200 > right[..., 0].mean() + 100
        assert right[..., 2].mean() > 200 > left[..., 2].mean() + 100


def test_same_answer_from_path_bytes_and_str(tmp_path):
    content = _encode(_half_red(), "PNG")
    path = tmp_path / "p.png"
    path.write_bytes(content)
    model = MeanRedModel()
    results = [predict.predict_image(model, source)["p_dog"] for source in (path, str(path), content)]
    assert results[0] == results[1] == results[2]


def test_rgba_transparency_becomes_white_as_in_the_prepared_data():
    transparent = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    array = predict.decode_image(_encode(transparent, "PNG"))
    assert array.dtype == np.uint8 and array.shape == (8, 8, 3)
    assert (array == 255).all()


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    array = predict.decode_image(buffer.getvalue())
    assert array[..., 0].mean() > 200 and array[..., 2].mean() < 50


def test_exif_orientation_is_applied():
    image = _half_red(width=40, height=20)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    content = _encode(image, "JPEG", exif=exif.tobytes(), quality=95)
    array = predict.decode_image(content)
    assert array.shape == (40, 20, 3), "width and height swap"
    top, bottom = array[:5].astype(float), array[-5:].astype(float)
    assert top[..., 0].mean() > 200 and bottom[..., 2].mean() > 200, "red ends on top"


def test_plain_jpeg_is_decoded_and_resized_exactly_as_the_training_data(tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    path = tmp_path / "cat.1.jpg"
    Image.fromarray(rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)).save(path, "JPEG")
    ours = predict.prepare_image(path, SIZE)
    image = tf.image.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
    training = tf.image.resize(image, SIZE, method="bilinear").numpy()
    np.testing.assert_array_equal(ours, training)
    from utils import loading

    np.testing.assert_array_equal(ours, loading.load_image(path, SIZE))


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"hello, this is a text file, not a photo\n" * 3, "not an image"),
    (b"%PDF-1.4 fake", "not an image"),
])
def test_bad_bytes_give_a_clear_value_error(tmp_path, content, message):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        predict.predict_image(MeanRedModel(), path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_gives_a_clear_value_error(tmp_path, fmt):
    rng = np.random.default_rng(1)
    content = _encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        predict.predict_image(MeanRedModel(), path)


def test_unsupported_format_is_refused():
    content = _encode(Image.new("RGB", (4, 4)), "TIFF")
    with pytest.raises(ValueError, match="unsupported image format TIFF"):
        predict.decode_image(content)


def test_missing_file_and_wrong_types(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image file"):
        predict.predict_image(MeanRedModel(), tmp_path / "nothing.jpg")
    with pytest.raises(TypeError, match="file path, an http"):
        predict.predict_image(MeanRedModel(), 42)
    with pytest.raises(ValueError, match="two classes"):
        predict.predict_image(MeanRedModel(), b"x", class_names=("cats",))


def test_url_offline_gives_a_connection_error(monkeypatch):
    import urllib.error

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(predict.urllib.request, "urlopen", refuse)
    with pytest.raises(ConnectionError, match="Offline.*my_photos"):
        predict.predict_image(MeanRedModel(), "https://example.com/cat.jpg")


def test_url_is_fetched(monkeypatch):
    content = _encode(_half_red(), "PNG")

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(predict.urllib.request, "urlopen", lambda request, timeout: Response(content))
    answer = predict.predict_image(MeanRedModel(), "http://example.com/dog.png")
    assert answer["label"] in ("cats", "dogs")


def test_label_follows_the_class_names_and_threshold():
    red = _encode(Image.new("RGB", (8, 8), (255, 0, 0)), "PNG")
    blue = _encode(Image.new("RGB", (8, 8), (0, 0, 255)), "PNG")
    dog = predict.predict_image(MeanRedModel(), red)
    cat = predict.predict_image(MeanRedModel(), blue)
    assert dog["label"] == "dogs" and dog["p_dog"] == pytest.approx(1.0)
    assert cat["label"] == "cats" and cat["probability"] == pytest.approx(1.0)
    assert predict.predict_image(MeanRedModel(), red, class_names=("cat", "dog"))["label"] == "dog"


def test_model_without_a_fixed_size_needs_image_size():
    class Unsized(MeanRedModel):
        input_shape = (None, None, None, 3)

    red = _encode(Image.new("RGB", (8, 8), (255, 0, 0)), "PNG")
    with pytest.raises(ValueError, match="image_size"):
        predict.predict_image(Unsized(), red)
    model = Unsized()
    predict.predict_image(model, red, image_size=(5, 7))
    assert model.seen.shape == (1, 5, 7, 3)


def test_output_that_is_not_a_probability_is_refused():
    class Logits(MeanRedModel):
        def __call__(self, images, training=False):
            return np.full((1, 1), 3.0, np.float32)

    with pytest.raises(ValueError, match="not a probability"):
        predict.predict_image(Logits(), _encode(Image.new("RGB", (8, 8)), "PNG"))


def test_with_a_real_keras_model(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((*SIZE, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")], name="tiny")
    path = tmp_path / "photo.webp"
    path.write_bytes(_encode(_half_red(), "WEBP"))
    answer = predict.predict_image(model, path)
    expected = float(keras.ops.convert_to_numpy(model(predict.prepare_image(path, SIZE)[None]))[0, 0])
    assert answer["p_dog"] == pytest.approx(expected, rel=1e-6)
    assert predict.model_image_size(model) == SIZE


def test_load_saved_model_missing_and_corrupt(tmp_path):
    from utils import config

    cfg = config.get_profile("smoke", results_dir=tmp_path)
    assert predict.load_saved_model(cfg, "cnn_small") is None
    cfg.models_dir.mkdir(parents=True)
    (cfg.models_dir / "cnn_small.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="could not load .*cnn_small.keras"):
        predict.load_saved_model(cfg, "cnn_small")


def test_load_saved_model_reads_back_shear_augmentation(tmp_path):
    """Keras saves RandomShear(0.2) as [-0.2, 0.2], which it then refuses; we load it anyway."""
    import keras

    from utils import config

    cfg = config.get_profile("smoke", results_dir=tmp_path)
    cfg.models_dir.mkdir(parents=True)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.RandomShear(x_factor=0.2, seed=1),
                              keras.layers.Conv2D(2, 3), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")], name="cnn_aug")
    model.save(cfg.models_dir / "cnn_aug.keras")
    loaded = predict.load_saved_model(cfg, "cnn_aug")
    assert loaded.name == "cnn_aug"
    image = np.zeros((1, 8, 8, 3), np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(image)), keras.ops.convert_to_numpy(model(image)),
                               rtol=1e-6)
    assert keras.layers.RandomShear.from_config.__func__ is keras.layers.Layer.from_config.__func__, \
        "the workaround is undone after loading"


def test_predict_p_dog_batches_and_checks():
    import keras

    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")], name="tiny")
    images = np.random.default_rng(0).uniform(0, 255, (5, 4, 4, 3)).astype(np.float32)
    p_dog = predict.predict_p_dog(model, images, batch_size=2)
    assert p_dog.shape == (5,) and p_dog.dtype == np.float32
    np.testing.assert_allclose(p_dog, keras.ops.convert_to_numpy(model(images))[:, 0], rtol=1e-5, atol=1e-7)
    assert predict.predict_p_dog(model, np.zeros((0, 4, 4, 3))).shape == (0,)
    with pytest.raises(ValueError, match=r"\(n, h, w, 3\)"):
        predict.predict_p_dog(model, np.zeros((4, 4, 3)))


# --------------------------------------------------------------------------- hostile inputs
def _silent_server(trickle: bool = False):
    """A server on 127.0.0.1 that never answers (or answers one byte at a time, forever)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            if trickle:
                connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\n\r\n")
                while not stop.is_set():
                    try:
                        connection.sendall(b"\xff")
                    except OSError:
                        break
                    stop.wait(0.1)
            else:
                stop.wait()
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, stop


@pytest.mark.parametrize("trickle", [False, True], ids=["never-answers", "trickles-forever"])
def test_a_url_that_times_out_gives_a_connection_error_quickly(monkeypatch, trickle):
    import time

    server, stop = _silent_server(trickle)
    monkeypatch.setattr(predict, "URL_TIMEOUT", 0.8)
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionError, match=r"within 0.8 s.*my_photos"):
            predict.predict_image(MeanRedModel(), f"http://127.0.0.1:{server.getsockname()[1]}/cat.jpg")
    finally:
        stop.set()
        server.close()
    assert time.monotonic() - started < 5


def test_a_100_megapixel_jpeg_is_decoded_reduced_without_a_large_array(tmp_path):
    """Run in a fresh process to measure its peak memory: far below the 300 MB of the full image."""
    import os
    import subprocess
    import sys

    from utils import config

    if not os.path.exists("/proc/self/status"):
        pytest.skip("measures memory with Linux's /proc")
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (10_000, 10_000), (200, 30, 30)).save(path, "JPEG", quality=80)
    # VmHWM: this process's peak memory (ru_maxrss would include the parent's, kept across exec)
    code = ("import re, sys\nfrom utils import predict\n"
            "a = predict.decode_image(open(sys.argv[1], 'rb').read())\n"
            "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
            "print(a.shape[0], a.shape[1], int(a[..., 0].mean()), int(peak) // 1024)")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                            env={**__import__("os").environ, "PYTHONPATH": str(config.PROJECT_ROOT)},
                            timeout=120)
    assert result.returncode == 0, result.stderr
    height, width, red, peak_mb = (int(v) for v in result.stdout.split())
    assert 1024 <= height < 10_000 and 1024 <= width < 10_000, "decoded at a reduced scale"
    assert red > 180
    assert peak_mb < 200, f"peak memory {peak_mb} MB"


def test_a_huge_image_that_cannot_be_reduced_is_refused_clearly():
    content = _encode(Image.new("1", (10_000, 10_000)), "PNG")  # 100 MP, 1 bit per pixel
    with pytest.raises(ValueError, match=r"image too large: 10000 x 10000 pixels \(100 MP\)"):
        predict.decode_image(content)


def test_png_transparency_is_composited_on_white_as_in_preparation(tmp_path):
    from utils import audit, splitting

    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 255          # red...
    rgba[:, 10:, 3] = 255       # ...opaque on the right, transparent on the left
    content = _encode(Image.fromarray(rgba, "RGBA"), "PNG")
    ours = predict.decode_image(content)
    assert (ours[:, :10] == 255).all() and (ours[:, 10:] == (255, 0, 0)).all()
    source, written = tmp_path / "cat.1.png", tmp_path / "cat.1.jpg"
    source.write_bytes(content)
    check = audit.check_image(source)
    splitting._write_image(source, check, written)
    prepared = np.asarray(Image.open(written).convert("RGB"), dtype=float)
    assert np.abs(prepared - ours).mean() < 3, "preparation and prediction see the same pixels"
    palette = Image.fromarray(rgba, "RGBA").convert("P")
    palette.info["transparency"] = 0
    assert predict.decode_image(_encode(palette, "PNG", transparency=0)).shape == (20, 20, 3)


def test_an_mpo_from_a_phone_gives_its_first_frame(tmp_path):
    from utils import audit

    first, second = Image.new("RGB", (32, 24), (250, 0, 0)), Image.new("RGB", (32, 24), (0, 0, 250))
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    content = buffer.getvalue()
    assert Image.open(io.BytesIO(content)).format == "MPO"
    array = predict.decode_image(content)
    assert array.shape == (24, 32, 3) and array[..., 0].mean() > 200 and array[..., 2].mean() < 50
    path = tmp_path / "cat.7.jpg"
    path.write_bytes(content)
    check = audit.check_image(path)
    assert check.ok and check.needs_conversion, "preparation accepts it too, as a re-encoded JPEG"


def test_heic_says_how_to_convert_it(tmp_path):
    from utils import images

    content = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
    if images._register_heif():
        pytest.skip("pillow-heif is installed: HEIC files are read")
    with pytest.raises(ValueError, match="HEIC.*convert it to JPEG.*pillow-heif"):
        predict.decode_image(content)
    from utils import audit

    path = tmp_path / "cat.3.jpg"
    path.write_bytes(content)
    check = audit.check_image(path)
    assert not check.ok and "HEIC" in check.reason


def test_load_model_knows_the_course_layers_with_only_predict_imported(tmp_path):
    """A saved model holding VGG16's and Lite0's preprocessing loads in a fresh Python that imports utils.predict alone."""
    import subprocess
    import sys

    from utils import config, efficientnet_lite, vgg16

    model = keras.Sequential([keras.Input((4, 4, 3)), vgg16.preprocessing_layer(),
                              efficientnet_lite.preprocessing_layer()])
    model.save(tmp_path / "m.keras")
    image = np.full((1, 4, 4, 3), 200.0, np.float32)
    np.save(tmp_path / "image.npy", image)
    code = ("import sys, numpy as np\n"
            "from utils import predict\n"
            "assert 'utils.vgg16' not in sys.modules and 'utils.efficientnet_lite' not in sys.modules\n"
            "model = predict.load_model(sys.argv[1])\n"
            "print([type(layer).__name__ for layer in model.layers])\n"
            "np.save(sys.argv[2], np.asarray(model(np.load(sys.argv[3]))))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.keras"), str(tmp_path / "out.npy"),
                          str(tmp_path / "image.npy")], cwd=config.PROJECT_ROOT, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "['VggPreprocessing', 'LitePreprocessing']"
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"),
                               keras.ops.convert_to_numpy(model(image)), rtol=1e-6)
