"""Screen back-ends: put a rendered frame on a panel, in a PNG file, or nowhere.

Every back-end has ``show(image)``, ``close()`` and ``last_frame`` (the upright picture
last shown, which the simulator serves as ``/api/screen.png``). Frames are drawn upright
at the configured size; a back-end that drives a panel rotates them (clockwise, like
``fbcon=rotate`` and luma) and scales them to the panel. A broken screen raises
:class:`ScreenError` and nothing else, so the daemon can report it and keep taking votes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, ImageChops, ImageOps


class ScreenConfig(Protocol):
    """What a screen back-end needs of its settings (the kiosk's ``[screen]`` table)."""

    kind: str
    device: Path
    width: int
    height: int
    rotate: int
    luma_driver: str
    spi_port: int
    spi_device: int
    dc_pin: int
    rst_pin: int


SYSFS_GRAPHICS = Path("/sys/class/graphics")
ROTATIONS = (0, 90, 180, 270)
VIDEO_GROUP_HINT = (
    "add the kiosk's user to the video group (sudo usermod -aG video USER, then log in "
    "again; under systemd: SupplementaryGroups=video)"
)


class ScreenError(RuntimeError):
    """The screen cannot be used; the message says why and what to do."""


def _check_rotation(rotate: int) -> int:
    if rotate not in ROTATIONS:
        raise ScreenError(f"screen.rotate is {rotate}: use 0, 90, 180 or 270")
    return rotate


def rotated(image: Image.Image, rotate: int) -> Image.Image:
    """``image`` turned ``rotate`` degrees clockwise."""
    if rotate == 0:
        return image
    return image.rotate(-rotate, expand=True)


def letterboxed(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` scaled to fit ``size`` keeping its proportions, centred on black."""
    if image.size == size:
        return image
    return ImageOps.pad(image, size, method=Image.Resampling.LANCZOS, color=(0, 0, 0))


class Screen:
    """A place to show frames. Sub-classes draw in :meth:`_put`."""

    def __init__(self) -> None:
        self.last_frame: Image.Image | None = None

    def show(self, image: Image.Image) -> None:
        """Show ``image`` (any mode; converted to RGB). Raises :class:`ScreenError`."""
        frame = image.convert("RGB")
        self._put(frame)
        self.last_frame = frame

    def _put(self, image: Image.Image) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device; safe to call twice."""

    def __enter__(self) -> Screen:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class NullScreen(Screen):
    """No screen fitted (kind none): frames are only kept as ``last_frame``."""

    def _put(self, image: Image.Image) -> None:
        pass


class PngScreen(Screen):
    """Each frame written to a PNG file, for simulation and tests.

    The file is replaced atomically, so a reader (the virtual panel, a script) never sees
    half a picture. It holds the upright frame: there is no panel to rotate for.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ScreenError(
                f"cannot create {self.path.parent} for the screen: {error}"
            ) from error

    def _put(self, image: Image.Image) -> None:
        temporary = None
        try:
            handle, temporary = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
            with os.fdopen(handle, "wb") as file:
                image.save(file, format="PNG")
            os.replace(temporary, self.path)
        except OSError as error:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            raise ScreenError(f"cannot write the screen image {self.path}: {error}") from error


@dataclass(frozen=True, slots=True)
class FbGeometry:
    """A framebuffer's size and pixel format, as the kernel reports it in sysfs."""

    width: int
    height: int
    bits_per_pixel: int
    stride: int  # bytes from one line to the next (may include padding)

    @classmethod
    def read(cls, device: Path, sysfs: Path = SYSFS_GRAPHICS) -> FbGeometry:
        """Read ``bits_per_pixel`` and ``stride`` of ``/dev/fbN`` from sysfs, and the visible
        size from the device (``virtual_size`` may be a double-height page-flip buffer)."""
        folder = sysfs / Path(os.path.realpath(device)).name
        try:
            width, height = (
                int(part) for part in (folder / "virtual_size").read_text().strip().split(",")
            )
            bits = int((folder / "bits_per_pixel").read_text())
            stride = int((folder / "stride").read_text())
        except FileNotFoundError as error:
            raise ScreenError(
                f"{device} is not a framebuffer ({folder} is missing): check screen.device, "
                "or enable the display (HDMI connected at boot, or the SPI panel's overlay)"
            ) from error
        except (OSError, ValueError) as error:
            raise ScreenError(
                f"cannot read the geometry of {device} from {folder}: {error}"
            ) from error
        visible = _visible_size(device)
        if visible is not None:
            width, height = visible
        return cls(width, height, bits, stride)


FBIOGET_VSCREENINFO = 0x4600


def _visible_size(device: Path) -> tuple[int, int] | None:
    """xres and yres of struct fb_var_screeninfo (its first two __u32), or None."""
    try:
        fd = os.open(device, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = fcntl.ioctl(fd, FBIOGET_VSCREENINFO, bytes(160))
    except OSError:
        return None
    finally:
        os.close(fd)
    xres, yres = struct.unpack_from("=II", info)
    return (xres, yres) if xres and yres else None


def rgb565(image: Image.Image) -> bytes:
    """RGB pixels as 16-bit RGB565, little-endian (2 bytes a pixel)."""
    red, green, blue = image.convert("RGB").split()
    green6 = green.point(lambda value: value >> 2)
    low = ImageChops.add(
        green6.point(lambda value: (value & 0x07) << 5), blue.point(lambda value: value >> 3)
    )
    high = ImageChops.add(
        red.point(lambda value: value & 0xF8), green6.point(lambda value: value >> 3)
    )
    return Image.merge("LA", (low, high)).tobytes()


def bgrx(image: Image.Image) -> bytes:
    """RGB pixels as 32-bit little-endian XRGB (bytes B, G, R, 0)."""
    return image.convert("RGB").tobytes("raw", "BGRX")


ENCODERS = {16: rgb565, 32: bgrx}


class FramebufferScreen(Screen):
    """The Linux framebuffer (HDMI, or an SPI panel with a kernel driver), 16 or 32 bpp.

    The whole frame goes out in one ``pwrite`` at offset 0: no partly drawn frame is left
    on the panel for long, and no mmap (which a regular file in the tests could not fake).
    """

    def __init__(self, device: Path, rotate: int = 0, geometry: FbGeometry | None = None) -> None:
        super().__init__()
        self.device = Path(device)
        self.rotate = _check_rotation(rotate)
        self.geometry = geometry or FbGeometry.read(self.device)
        bits, bytes_per_line = self.geometry.bits_per_pixel, self.geometry.stride
        if bits not in ENCODERS:
            raise ScreenError(
                f"{self.device} uses {bits} bits per pixel; hom-phieu draws 16 or 32: set the "
                "framebuffer depth to 16 or 32 (e.g. framebuffer_depth=32 in config.txt)"
            )
        if bytes_per_line < self.geometry.width * bits // 8 or bytes_per_line % (bits // 8):
            raise ScreenError(
                f"{self.device}: stride {bytes_per_line} does not fit {self.geometry.width} "
                f"pixels of {bits} bits"
            )
        self._fd: int | None = self._open()

    def _open(self) -> int:
        try:
            return os.open(self.device, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError as error:
            raise ScreenError(
                f"framebuffer {self.device} not found: check screen.device and that the "
                "display is enabled (ls /dev/fb*)"
            ) from error
        except PermissionError as error:
            raise ScreenError(
                f"no permission to write {self.device}: {VIDEO_GROUP_HINT}"
            ) from error
        except OSError as error:
            raise ScreenError(f"cannot open framebuffer {self.device}: {error}") from error

    def encode(self, image: Image.Image) -> bytes:
        """``image`` as the bytes of the whole framebuffer: rotated, letterboxed, packed."""
        geometry = self.geometry
        upright = rotated(image.convert("RGB"), self.rotate)
        fitted = letterboxed(upright, (geometry.width, geometry.height))
        pixels_per_line = geometry.stride // (geometry.bits_per_pixel // 8)
        if pixels_per_line != geometry.width:  # padding at the end of each line
            padded = Image.new("RGB", (pixels_per_line, geometry.height))
            padded.paste(fitted, (0, 0))
            fitted = padded
        return ENCODERS[geometry.bits_per_pixel](fitted)

    def _put(self, image: Image.Image) -> None:
        if self._fd is None:
            raise ScreenError(f"framebuffer {self.device} is closed")
        data = memoryview(self.encode(image))
        try:
            written = 0
            while written < len(data):  # one call, unless the kernel takes less
                count = os.pwrite(self._fd, data[written:], written)
                if count <= 0:
                    raise OSError(f"wrote {written} of {len(data)} bytes")
                written += count
        except OSError as error:
            raise ScreenError(f"cannot write to framebuffer {self.device}: {error}") from error

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


class LumaScreen(Screen):
    """An SPI LCD driven through luma.lcd (``pip install 'hom-phieu[luma]'``).

    ``width`` x ``height`` is the upright frame; luma itself turns it by ``rotate``.
    """

    def __init__(
        self,
        width: int,
        height: int,
        rotate: int = 0,
        *,
        driver: str = "ili9341",
        port: int = 0,
        chip_select: int = 0,
        gpio_dc: int = 24,
        gpio_rst: int = 25,
    ) -> None:
        super().__init__()
        turns = _check_rotation(rotate) // 90
        try:
            from luma.core.interface.serial import spi
            from luma.lcd import device as lcd_devices
        except ImportError as error:
            raise ScreenError(
                "screen.kind = luma needs luma.lcd, which is not installed: "
                "pip install 'hom-phieu[luma]'"
            ) from error
        factory = getattr(lcd_devices, driver, None)
        if factory is None:
            raise ScreenError(f"luma.lcd has no display driver {driver!r}")
        # luma takes the panel's own size and reports the rotated one as .size.
        native = (width, height) if turns % 2 == 0 else (height, width)
        try:
            serial = spi(port=port, device=chip_select, gpio_DC=gpio_dc, gpio_RST=gpio_rst)
            self._device: Any = factory(serial, width=native[0], height=native[1], rotate=turns)
        except Exception as error:  # luma raises its own errors and plain OSErrors
            raise ScreenError(
                f"cannot open the SPI display ({driver} on spidev{port}.{chip_select}): {error}; "
                "enable SPI (dtparam=spi=on) and add the user to the spi and gpio groups"
            ) from error

    def _put(self, image: Image.Image) -> None:
        try:
            self._device.display(letterboxed(image, tuple(self._device.size)))
        except Exception as error:
            raise ScreenError(f"cannot draw on the SPI display: {error}") from error

    def close(self) -> None:
        device, self._device = getattr(self, "_device", None), None
        if device is not None:
            with contextlib.suppress(Exception):  # a failed panel must not fail the shutdown
                device.cleanup()


def open_screen(config_screen: ScreenConfig, state_dir: Path) -> Screen:
    """The back-end that ``[screen]`` asks for (a :class:`kiosk.config.Screen`).

    ``state_dir``: where the png back-end writes ``screen.png``.
    """
    kind = config_screen.kind
    if kind == "none":
        return NullScreen()
    if kind == "png":
        return PngScreen(Path(state_dir) / "screen.png")
    if kind == "framebuffer":
        return FramebufferScreen(config_screen.device, config_screen.rotate)
    if kind == "luma":
        return LumaScreen(
            config_screen.width,
            config_screen.height,
            config_screen.rotate,
            driver=config_screen.luma_driver,
            port=config_screen.spi_port,
            chip_select=config_screen.spi_device,
            gpio_dc=config_screen.dc_pin,
            gpio_rst=config_screen.rst_pin,
        )
    raise ScreenError(f"screen.kind is {kind!r}: use none, framebuffer, luma or png")
