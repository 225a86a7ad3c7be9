"""Line-wise reading of corpus text files with errors that name file and line."""
from __future__ import annotations

import contextlib
import gzip
from typing import IO, Iterator, Tuple, Type

from memristor_asr.util import uopen

__all__ = ["utf8_lines", "deterministic_gzip"]


def utf8_lines(path, error: Type[Exception] = ValueError) -> Iterator[Tuple[str, str]]:
    """Yield ``("file:line", text)`` for each line of a plain or gzipped UTF-8 file.

    :raises error: ``file:line: not valid UTF-8 (byte 0x.. at column N)`` on the first bad line
    """
    with uopen(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            try:
                yield where, raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise error(f"{where}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})") from None


@contextlib.contextmanager
def deterministic_gzip(path) -> Iterator[IO[bytes]]:
    """A binary gzip writer whose output depends only on the content (mtime 0, no file name in the header)."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        yield gz
