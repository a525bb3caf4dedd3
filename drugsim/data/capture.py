"""Photographing a printed box face as the paper's photos vary: :class:`CaptureParams` (every camera
control, neutral by default), :func:`sample_capture_params` and :func:`render_photo`.

Brightness 0.5-1.5, colour cast, rotation 0 or 180 degrees plus a few degrees, perspective, scale,
background, blur, noise, JPEG quality and occasional glare; a robustness study photographs one face
under one controlled change.

References:
    Paper section 4.1 (dataset), Fig. 11 (sample photos).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np

from drugsim.data.boxes import Colour, RngLike, _as_rng
from drugsim.errors import ConfigError


# --------------------------------------------------------------------------------------------- capture
@dataclass(frozen=True)
class CaptureParams:
    """Every control of one photo of a face; the default is a neutral, centred, clean shot.

    Attributes:
        brightness: overall gain (paper: 0.5-1.5).
        colour_cast: per-channel RGB gain (white balance).
        light_gradient: strength of a linear illumination ramp across the frame (0 = even light).
        light_angle: direction of that ramp in degrees.
        rotation: 0 or 180 (box upside down), in degrees.
        tilt: extra in-plane rotation in degrees (a few degrees).
        scale: long side of the face as a fraction of the photo's long side.
        offset: (dx, dy) of the face centre as fractions of the photo size.
        perspective: 8 corner displacements (x0, y0, ..., x3, y3) as fractions of the face size.
        background: RGB colour of the surface under the box.
        background_texture: strength of its texture (0 = flat).
        shadow: darkness of the box's soft shadow (0 = none).
        blur: Gaussian blur sigma in pixels (0 = sharp).
        noise: sensor noise standard deviation in grey levels.
        jpeg_quality: JPEG quality the photo is saved with (1-100).
        glare: peak strength of a specular highlight (0 = none, 1 = saturates).
        glare_position: (x, y) of the highlight as fractions of the photo size.
        glare_radius: highlight radius as a fraction of the photo's long side.
        occlusion: fraction of the face's width covered by a finger-like blob (0 = none).
    """

    brightness: float = 1.0
    colour_cast: tuple[float, float, float] = (1.0, 1.0, 1.0)
    light_gradient: float = 0.0
    light_angle: float = 0.0
    rotation: int = 0
    tilt: float = 0.0
    scale: float = 0.8
    offset: tuple[float, float] = (0.0, 0.0)
    perspective: tuple[float, ...] = (0.0,) * 8
    background: Colour = (128, 128, 128)
    background_texture: float = 0.0
    shadow: float = 0.0
    blur: float = 0.0
    noise: float = 0.0
    jpeg_quality: int = 95
    glare: float = 0.0
    glare_position: tuple[float, float] = (0.5, 0.5)
    glare_radius: float = 0.15
    occlusion: float = 0.0

    def __post_init__(self) -> None:
        if self.rotation not in (0, 180):
            raise ConfigError(f"rotation must be 0 or 180 degrees, got {self.rotation}")
        if not 1 <= int(self.jpeg_quality) <= 100:
            raise ConfigError(f"jpeg_quality must be in 1-100, got {self.jpeg_quality}")
        if len(self.perspective) != 8:
            raise ConfigError(f"perspective needs 8 corner displacements, got {len(self.perspective)}")
        if not 0.05 <= self.scale <= 1.5:
            raise ConfigError(f"scale must be in 0.05-1.5 (face long side / photo long side), got {self.scale}")

    def to_row(self) -> dict[str, str]:
        """Flat strings for the manifest (tuples space-separated, floats to 4 decimals)."""
        row = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                row[f.name] = " ".join(_fmt(v) for v in value)
            else:
                row[f.name] = _fmt(value)
        return row

    @classmethod
    def from_row(cls, row: dict[str, str]) -> CaptureParams:
        """Inverse of :meth:`to_row` (extra keys are ignored)."""
        kwargs = {}
        for f in fields(cls):
            if f.name not in row:
                continue
            text = row[f.name]
            default = getattr(cls(), f.name)
            if isinstance(default, tuple):
                kind = int if all(isinstance(v, int) for v in default) else float
                kwargs[f.name] = tuple(kind(float(v)) for v in text.split())
            elif isinstance(default, int):
                kwargs[f.name] = int(float(text))
            else:
                kwargs[f.name] = float(text)
        return cls(**kwargs)


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4f}"
    return str(value)


def sample_capture_params(rng: RngLike = None) -> CaptureParams:
    """Draw the photo conditions of one shot, as the paper's photos vary (section 4.1).

    Brightness 0.5-1.5, a colour cast of up to +-12 % per channel, uneven light, the box upside down
    half the time, +-6 degrees of tilt, perspective, scale, offset, background, mild blur and noise,
    JPEG quality 70-95, glare in one photo of eight and a finger in one of twenty-five.
    """
    rng = _as_rng(rng)
    r = lambda lo, hi: round(float(rng.uniform(lo, hi)), 4)
    background = tuple(int(v) for v in np.clip(rng.normal(rng.uniform(70, 200), 25, size=3), 0, 255))
    return CaptureParams(
        brightness=r(0.5, 1.5),
        colour_cast=(r(0.88, 1.12), r(0.92, 1.08), r(0.88, 1.12)),
        light_gradient=r(0.0, 0.35),
        light_angle=r(0, 360),
        rotation=int(rng.choice((0, 180))),
        tilt=r(-6, 6),
        scale=r(0.62, 0.92),
        offset=(r(-0.06, 0.06), r(-0.06, 0.06)),
        perspective=tuple(r(-0.06, 0.06) for _ in range(8)),
        background=background,  # type: ignore[arg-type]
        background_texture=r(0.0, 1.0),
        shadow=r(0.0, 0.5),
        blur=r(0.0, 1.2) if rng.random() < 0.7 else r(1.2, 2.2),
        noise=r(0.5, 5.0),
        jpeg_quality=int(rng.integers(70, 96)),
        glare=r(0.5, 0.95) if rng.random() < 0.125 else 0.0,
        glare_position=(r(0.25, 0.75), r(0.25, 0.75)),
        glare_radius=r(0.06, 0.2),
        occlusion=r(0.08, 0.2) if rng.random() < 0.04 else 0.0,
    )


def _background(size: tuple[int, int], params: CaptureParams, rng: np.random.Generator) -> np.ndarray:
    width, height = size
    base = np.empty((height, width, 3), np.float32)
    base[:] = params.background
    if params.background_texture > 0:
        # Low-frequency blotches (wood, cloth) plus grain: a real surface, not a flat colour.
        coarse = rng.normal(0, 1, size=(max(2, height // 32), max(2, width // 32), 1)).astype(np.float32)
        coarse = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)[:, :, None]
        streaks = rng.normal(0, 1, size=(height, 1)).astype(np.float32)
        streaks = cv2.GaussianBlur(streaks, (0, 0), 2.0).reshape(height, 1, 1)
        grain = rng.normal(0, 1, size=(height, width, 1)).astype(np.float32)
        base *= 1 + params.background_texture * (0.08 * coarse + 0.05 * streaks + 0.03 * grain)
    return base


def render_photo(face_image: np.ndarray, params: CaptureParams, rng: RngLike = None, *,
                 out_size: tuple[int, int] = (288, 216), apply_jpeg: bool = True) -> np.ndarray:
    """Photograph a flat face print under ``params``.

    Args:
        face_image: RGB uint8 (H, W, 3), e.g. from :func:`draw_face`.
        params: the capture controls; ``CaptureParams()`` is a neutral shot.
        rng: randomness of the sensor noise and background texture only (the geometry and light are
            all in ``params``).
        out_size: (width, height) of the photo.
        apply_jpeg: round-trip through JPEG at ``params.jpeg_quality`` so the array shows the
            compression artefacts (a dataset writer passes False and saves at that quality instead).

    Returns:
        RGB uint8 array (height, width, 3).
    """
    if face_image.ndim != 3 or face_image.shape[2] != 3 or face_image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 face of shape (H, W, 3), got {face_image.shape} {face_image.dtype}")
    rng = _as_rng(rng)
    width, height = out_size
    fh, fw = face_image.shape[:2]
    # Geometry: face corners -> photo, scaled, rotated (0/180 + tilt), shifted, with perspective jitter.
    target = params.scale * max(width, height) / max(fw, fh)
    half = np.array([fw, fh], np.float64) * target / 2
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * half
    jitter = np.asarray(params.perspective, np.float64).reshape(4, 2) * half * 2
    corners = corners + jitter
    angle = np.deg2rad(params.rotation + params.tilt)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([width * (0.5 + params.offset[0]), height * (0.5 + params.offset[1])])
    dst = (corners @ rot.T + centre).astype(np.float32)
    src = np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(face_image, matrix, (width, height), flags=cv2.INTER_AREA
                                 if target < 1 else cv2.INTER_LINEAR).astype(np.float32)
    mask = cv2.warpPerspective(np.ones((fh, fw), np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR)
    photo = _background((width, height), params, rng)
    if params.shadow > 0:
        shift = np.float32([[1, 0, width * 0.02], [0, 1, height * 0.03]])
        shade = cv2.warpAffine(mask, shift, (width, height))
        shade = cv2.GaussianBlur(shade, (0, 0), max(width, height) * 0.015)
        photo *= (1 - params.shadow * shade)[:, :, None]
    photo = photo * (1 - mask[:, :, None]) + warped * mask[:, :, None]
    if params.occlusion > 0:
        finger_w = params.occlusion * params.scale * max(width, height)
        x = centre[0] - half[0] * 0.9
        axes = (int(finger_w / 2), int(finger_w * 1.6))
        skin = np.zeros((height, width), np.float32)
        cv2.ellipse(skin, (int(x), int(centre[1] + half[1])), axes, 15, 0, 360, 1.0, -1, cv2.LINE_AA)
        skin = cv2.GaussianBlur(skin, (0, 0), 1.0)[:, :, None]
        photo = photo * (1 - skin) + np.array([224, 172, 138], np.float32) * skin
    # Light: gain, white balance, a ramp across the frame, optional glare.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    theta = np.deg2rad(params.light_angle)
    ramp = ((xx / width - 0.5) * np.cos(theta) + (yy / height - 0.5) * np.sin(theta)) * 2
    gain = params.brightness * (1 + params.light_gradient * ramp)
    photo = photo * gain[:, :, None] * np.asarray(params.colour_cast, np.float32)
    if params.glare > 0:
        gx, gy = params.glare_position[0] * width, params.glare_position[1] * height
        radius = params.glare_radius * max(width, height)
        spot = np.exp(-((xx - gx) ** 2 + ((yy - gy) * 1.6) ** 2) / (2 * radius**2))
        photo = photo + params.glare * 255 * spot[:, :, None]
    if params.blur > 0:
        photo = cv2.GaussianBlur(photo, (0, 0), params.blur)
    if params.noise > 0:
        photo = photo + rng.normal(0, params.noise, size=(height, width, 1)).astype(np.float32)
    photo = np.clip(photo + 0.5, 0, 255).astype(np.uint8)
    if apply_jpeg and params.jpeg_quality < 100:
        photo = decode_jpeg(encode_jpeg(photo, params.jpeg_quality))
    return photo


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """RGB uint8 -> JPEG bytes (deterministic for the same input and quality)."""
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        raise ValueError("JPEG encoding failed")
    return buffer.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
