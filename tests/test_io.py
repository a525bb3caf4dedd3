"""drugsim.io: every kind of image a user may hand us, and atomic writes."""

import numpy as np
import pytest
from PIL import Image

from drugsim import io
from drugsim.errors import ImageReadError


def _rgb(h=12, w=20):
    image = np.zeros((h, w, 3), np.uint8)
    image[:, : w // 2] = (200, 30, 10)
    image[:, w // 2:] = (10, 30, 200)
    return image


def test_rgb_round_trip_png(tmp_path):
    path = io.write_image(tmp_path / "x.png", _rgb())
    out = io.read_image(path)
    assert out.dtype == np.uint8 and out.shape == (12, 20, 3)
    assert np.array_equal(out, _rgb())


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "1"])
def test_other_modes_become_rgb(tmp_path, mode):
    path = tmp_path / f"x_{mode}.{'jpg' if mode == 'CMYK' else 'png'}"
    Image.fromarray(_rgb()).convert(mode).save(path)
    out = io.read_image(path)
    assert out.shape == (12, 20, 3) and out.dtype == np.uint8


def test_rgba_transparency_is_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    assert (io.read_image(tmp_path / "t.png") == 255).all()


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    grey = np.full((5, 5), 32768, np.uint16)  # mid-grey in 16 bits
    Image.fromarray(grey).save(tmp_path / "g16.png")
    out = io.read_image(tmp_path / "g16.png")
    assert out.shape == (5, 5, 3) and 120 <= out[0, 0, 0] <= 135


def test_exif_rotation_is_applied(tmp_path):
    image = Image.fromarray(_rgb(10, 30))  # landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    image.save(tmp_path / "e.jpg", exif=exif.tobytes())
    assert io.read_image(tmp_path / "e.jpg").shape == (30, 10, 3)


@pytest.mark.parametrize("name, content, message", [
    ("empty.jpg", b"", r"empty.jpg: file is empty \(0 bytes\)"),
    ("text.jpg", b"plain text, not an image", r"text.jpg: not a readable image"),
    ("notes.txt", b"some notes", r"notes.txt: not a readable image"),
])
def test_unreadable_files_name_the_file(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageReadError, match=message):
        io.read_image(tmp_path / name)


def test_truncated_and_corrupt_jpeg(tmp_path):
    io.write_image(tmp_path / "full.jpg", (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8))
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cut.jpg: image is truncated or corrupt"):
        io.read_image(tmp_path / "cut.jpg")
    corrupt = bytearray(data)
    corrupt[20:400] = b"\xff" * 380
    (tmp_path / "bad.jpg").write_bytes(bytes(corrupt))
    with pytest.raises(ImageReadError, match="bad.jpg: (image is truncated or corrupt|not a readable image)"):
        io.read_image(tmp_path / "bad.jpg")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="nope.jpg: no such file"):
        io.read_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageReadError, match="is a folder"):
        io.read_image(tmp_path)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    # A small file whose header claims more pixels than the limit: lower the limit instead of writing
    # a real 90-megapixel bomb.
    io.write_image(tmp_path / "bomb.png", np.zeros((100, 100, 3), np.uint8))
    monkeypatch.setattr(io, "MAX_IMAGE_PIXELS", 5000)
    with pytest.raises(ImageReadError, match="bomb.png: 100x100 pixels is larger than the 5000 pixel limit"):
        io.read_image(tmp_path / "bomb.png")


def test_to_grey():
    grey = io.to_grey(_rgb())
    assert grey.shape == (12, 20) and grey.dtype == np.uint8
    # OpenCV / ITU-R BT.601: Y = 0.299 R + 0.587 G + 0.114 B.
    assert abs(int(grey[0, 0]) - round(0.299 * 200 + 0.587 * 30 + 0.114 * 10)) <= 1
    with pytest.raises(ValueError, match="expected an image of shape"):
        io.to_grey(np.zeros((2, 2, 5), np.uint8))


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    io.write_text_atomic(target, "whole")
    assert target.read_text() == "whole"


def test_atomic_folder_replaces_the_old_one(tmp_path):
    target = tmp_path / "ds"
    target.mkdir()
    (target / "old").write_text("1")
    with io.atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "new").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_content_sha256_names_the_content_not_the_place(tmp_path):
    from drugsim.io import content_sha256

    for folder in ("here", "there"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.png").write_bytes(b"photo a")
        (tmp_path / folder / "b.png").write_bytes(b"photo b")
    here = [("a.png", "x", tmp_path / "here" / "a.png"), ("b.png", "y", tmp_path / "here" / "b.png")]
    there = [("b.png", "y", tmp_path / "there" / "b.png"), ("a.png", "x", tmp_path / "there" / "a.png")]
    assert content_sha256(here) == content_sha256(there)  # another folder, another order: the same gallery
    relabelled = [("a.png", "y", here[0][2]), here[1]]
    assert content_sha256(relabelled) != content_sha256(here)
    (tmp_path / "there" / "a.png").write_bytes(b"photo A")
    assert content_sha256(there) != content_sha256(here)


def test_read_text_lines_drops_a_bom_and_names_a_bad_line(tmp_path):
    from drugsim.errors import DatasetError
    from drugsim.io import read_text_lines

    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\n")
    assert read_text_lines(path) == ["one", "two"]
    path.write_bytes(b"one\ntw\xf0o\n")
    with pytest.raises(DatasetError, match=r"t.txt:2: byte 0xf0 at column 3 is not UTF-8"):
        read_text_lines(path)


def test_an_output_through_a_linked_folder_is_still_inside_the_input(tmp_path):
    from drugsim.errors import OutputError
    from drugsim.io import check_outputs_against_inputs

    (tmp_path / "data").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "data")
    with pytest.raises(OutputError, match="inside the input folder --data"):
        check_outputs_against_inputs({"--out": tmp_path / "alias" / "p.txt"}, folders={"--data": tmp_path / "data"})
