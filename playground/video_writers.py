"""Frame-by-frame writers of animated GIF and MP4, in constant memory.

GIF: each frame gets its own 256-colour palette (Pillow's fast octree quantizer on a quarter of
the pixels, no dithering, so flat heatmap cells stay flat) and is appended to the open file at
once. imageio's Pillow
plugin would keep every frame until the end and quantize them all then: measured here, 2.6 s for
20 frames of 1280×800 and 3 MB of memory per frame, against ~25 ms and nothing kept per frame
this way. MP4: imageio's ffmpeg writer (H.264, yuv420p), which streams frames to the ``ffmpeg``
that the optional ``imageio-ffmpeg`` package ships.

The writers write to the path they are given; :mod:`playground.animation` hands them a
temporary file and renames it when the last frame is in.
"""

from __future__ import annotations

import importlib.util

import numpy as np

#: What a user is told when MP4 is asked for without a video writer.
MP4_MISSING = "MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); GIF works without it"
FORMATS = ("gif", "mp4")
#: GIF delays are whole hundredths of a second, and viewers slow anything under 2 to 10.
GIF_MAX_FPS = 50.0


def mp4_available() -> bool:
    """Whether imageio-ffmpeg (and with it an ffmpeg binary) is installed."""
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def check_format(kind: str) -> str:
    kind = str(kind).lower().lstrip(".")
    if kind not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {kind!r}")
    if kind == "mp4" and not mp4_available():
        raise ValueError(MP4_MISSING)
    return kind


def check_fps(fps, kind: str) -> float:
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise ValueError(f"fps must be a number of frames per second, got {fps!r}") from None
    top = GIF_MAX_FPS if kind == "gif" else 120.0
    if not 0.1 <= value <= top:
        raise ValueError(f"fps must be between 0.1 and {top:g} for {kind.upper()}, got {fps!r}")
    return value


class GifWriter:
    """An animated GIF, looping forever, written one frame at a time.

    Frame delays alternate between neighbouring hundredths so that the average rate is
    ``fps`` (30 fps: 3, 3, 4, 3, 3, 4 … hundredths).
    """

    def __init__(self, handle, fps: float, loop: int = 0) -> None:
        self._handle = handle
        self._fps = float(fps)
        self._loop = int(loop)
        self._count = 0

    def delay_ms(self, index: int) -> int:
        ticks = round((index + 1) * 100 / self._fps) - round(index * 100 / self._fps)
        return 10 * max(2, ticks)

    def append(self, rgb: np.ndarray) -> None:
        for _ in self.append_steps(rgb):
            pass

    def append_steps(self, rgb: np.ndarray):
        """:meth:`append` in two pieces (quantize, then encode and write), yielding between."""
        frame = self.quantized(rgb)
        yield
        self.write(frame)

    @staticmethod
    def quantized(rgb: np.ndarray):
        """``rgb`` as a 256-colour palette image.

        The palette is found on every other pixel of every other row (a quarter of the work;
        flat plots lose nothing by it), then the whole frame is mapped onto it: ~10 ms at
        1280×800 here, against ~15–100 ms for the quantizer on the full frame.
        """
        from PIL import Image

        rgb = np.ascontiguousarray(rgb[..., :3])
        sample = Image.fromarray(np.ascontiguousarray(rgb[::2, ::2]), "RGB")
        palette = sample.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        return Image.fromarray(rgb, "RGB").quantize(palette=palette, dither=Image.Dither.NONE)

    def write(self, frame) -> None:
        from PIL import GifImagePlugin

        if self._count == 0:
            header, _ = GifImagePlugin.getheader(frame, info={"loop": self._loop})
            for chunk in header:
                self._handle.write(chunk)
        chunks = GifImagePlugin.getdata(
            frame,
            duration=self.delay_ms(self._count),
            include_color_table=self._count > 0,  # frame 0 uses the global table
        )
        for chunk in chunks:
            self._handle.write(chunk)
        self._count += 1

    def close(self) -> None:
        self._handle.write(b";")  # the GIF trailer


class Mp4Writer:
    """H.264 in MP4 through imageio's ffmpeg plugin; sides must be even (yuv420p)."""

    def __init__(self, path: str, fps: float, size: tuple[int, int]) -> None:
        if size[0] % 2 or size[1] % 2:
            raise ValueError(f"size must have even sides for MP4, got {size[0]}x{size[1]}")
        import imageio.v2 as imageio

        self._writer = imageio.get_writer(
            path,
            format="FFMPEG",
            mode="I",
            fps=float(fps),
            codec="libx264",
            pixelformat="yuv420p",
            quality=8,
            macro_block_size=1,
            ffmpeg_log_level="error",
        )

    def append(self, rgb: np.ndarray) -> None:
        self._writer.append_data(np.ascontiguousarray(rgb[..., :3]))

    def append_steps(self, rgb: np.ndarray):
        self.append(rgb)
        yield

    def close(self) -> None:
        self._writer.close()
