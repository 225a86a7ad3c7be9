"""The compiled CPU kernel of the fast read path (``csrc/fast_read.c``): counter-based normals and the
fused noise + ADC + plane-recombination epilogue of :class:`~memristor_asr.memristor.linear.MemristorLinear`.

Why compiled: at N = 8 one forward of a 384→1536 layer over 1,000 frames needs 32 M Gaussian draws,
one per (frame, bit plane, input tile, column). torch's CPU sampler (sequential Mersenne Twister,
≈ 3.5 ns per draw) and the five elementwise passes around it cost more than the matmuls. The
kernel draws Threefry-4x32-20 + Box–Muller normals in vector registers (≈ 1 ns per draw per core)
and applies σ·z, the ADC and Σ_b 2^b q in the same pass.

The shared library is compiled on first use with the system C compiler (``$CC``, else ``cc``),
once per source, flag set and CPU type, into a cache directory (``$MEMRISTOR_ASR_KERNEL_DIR``, else
``$XDG_CACHE_HOME/memristor_asr`` or ``~/.cache/memristor_asr``). ``tools/install.sh`` builds it
ahead of time with ``python -m memristor_asr.memristor.kernel``. Without a compiler (or with
``MEMRISTOR_ASR_KERNEL=off``) the fast path runs in plain torch: same distribution, different
random stream, slower; :func:`load` warns once with the reason.

Every normal depends only on (seed, stream, index), so results do not depend on blocking or on the
thread count; the kernel is compiled without FMA contraction and uses no libm transcendentals, so
they do not depend on the CPU's vector width either.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence, Union

import torch

__all__ = ["load", "available", "unavailable_reason", "cpu_flags", "normal", "adc_accumulate", "threefry4x32_20", "build"]

SOURCE = Path(__file__).with_name("csrc") / "fast_read.c"
# -ffp-contract=off: no FMA contraction, so every machine computes the same float operations;
# -fno-math-errno lets sqrtf vectorise; -fno-trapping-math lets the compiler turn Box–Muller's selects
# into blends, so that loop vectorises too (without it gcc 12 leaves it scalar on AVX2: 13.8 vs
# 2.5 ns per normal measured on an AMD EPYC, Zen 3); no value changes, only FP exception flags
CFLAGS = ["-O3", "-std=c11", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"]
NATIVE_FLAGS = ["-march=native"]
# OpenMP: the library then uses libgomp.so.1, which resolves to the copy torch has already loaded
# (torch's CPU build runs its matmuls on OpenMP), so both share one thread team
OPENMP_FLAGS = ["-fopenmp"]
_LOCK = threading.Lock()
_LIB: Optional[ctypes.CDLL] = None
_REASON: Optional[str] = None
_TRIED = False

_i64, _u64, _ptr = ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p


def cache_dir() -> Path:
    if os.environ.get("MEMRISTOR_ASR_KERNEL_DIR"):
        return Path(os.environ["MEMRISTOR_ASR_KERNEL_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "memristor_asr"


def _cpuinfo_lines() -> str:
    """The first CPU's model name and feature-flag lines of /proc/cpuinfo ("" where there is none)."""
    lines = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features", "model name")):
                    lines += line
                    if line.startswith(("flags", "Features")):
                        break
    except OSError:
        pass
    return lines


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset:
    """The first CPU's feature flags from /proc/cpuinfo (x86 ``flags``, Arm ``Features``); empty where unknown."""
    for line in _cpuinfo_lines().splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def _cpu_fingerprint() -> str:
    """Machine type and CPU feature flags: -march=native code must not run on another CPU type
    (home directories are often shared between the nodes of a cluster)."""
    return platform.machine() + "\n" + _cpuinfo_lines()


def _compiler() -> Optional[str]:
    cc = os.environ.get("CC", "")
    for cand in ([cc] if cc else []) + ["cc", "gcc", "clang"]:
        if shutil.which(cand):
            return cand
    return None


def build(verbose: bool = False) -> Path:
    """Compile the kernel into the cache (no-op if it is there) and return the library path.

    :raises RuntimeError: no C compiler, or the compiler failed (its output is in the message)
    """
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (tried $CC, cc, gcc, clang); install gcc or set CC")
    source = SOURCE.read_bytes()
    key = hashlib.sha256(b"\0".join([source, " ".join(CFLAGS + NATIVE_FLAGS + OPENMP_FLAGS).encode(), cc.encode(),
                                     _cpu_fingerprint().encode()])).hexdigest()[:16]
    target = cache_dir() / f"fast_read-{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    # fall back for compilers / machines without -march=native or OpenMP (then single-threaded)
    for extra in (NATIVE_FLAGS + OPENMP_FLAGS, OPENMP_FLAGS, NATIVE_FLAGS, []):
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        cmd = [cc, *CFLAGS, *extra, "-o", tmp, str(SOURCE), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            os.chmod(tmp, 0o755)
            os.replace(tmp, target)  # atomic: parallel jobs may build at the same time
            if verbose:
                print(" ".join(cmd), file=sys.stderr)
            return target
        os.unlink(tmp)
        errors.append(f"$ {' '.join(cmd)}\n{proc.stderr.strip()}")
    raise RuntimeError("compiling the fast-read kernel failed:\n" + "\n".join(errors))


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    lib.mr_normal.argtypes = [_ptr, _i64, _u64, _u64, _u64]
    lib.mr_normal.restype = ctypes.c_int
    lib.mr_adc_accumulate.argtypes = [_ptr, _ptr, ctypes.c_int, _ptr, _ptr, _ptr, _ptr, _ptr, _i64, _i64, _i64, _i64, _i64,
                                      _i64, _i64, _ptr, ctypes.c_float, _u64, _u64, _i64, _i64, _i64, ctypes.c_int]
    lib.mr_adc_accumulate.restype = ctypes.c_int
    lib.mr_threefry4x32_20.argtypes = [_ptr, _ptr, _ptr]
    lib.mr_threefry4x32_20.restype = None
    return lib


def load() -> Optional[ctypes.CDLL]:
    """The kernel library, building it if needed; None (with one warning) if it cannot be had."""
    global _LIB, _REASON, _TRIED
    with _LOCK:
        if _TRIED:
            return _LIB
        _TRIED = True
        if os.environ.get("MEMRISTOR_ASR_KERNEL", "").lower() in ("off", "0", "no", "false"):
            _REASON = "disabled by MEMRISTOR_ASR_KERNEL=off"
            return None
        try:
            _LIB = _declare(ctypes.CDLL(str(build())))
        except (RuntimeError, OSError) as e:
            _REASON = str(e)
            warnings.warn(f"memristor fast-read kernel unavailable, using the slower torch path "
                          f"(a different random stream): {e}", RuntimeWarning, stacklevel=2)
        return _LIB


def available() -> bool:
    return load() is not None


def unavailable_reason() -> Optional[str]:
    load()
    return _REASON


def _require() -> ctypes.CDLL:
    lib = load()
    if lib is None:
        raise RuntimeError(f"memristor fast-read kernel unavailable: {_REASON}")
    return lib


def _check(t: torch.Tensor, what: str, dtypes=(torch.float32,)) -> None:
    if t.device.type != "cpu" or t.dtype not in dtypes or not t.is_contiguous():
        raise ValueError(f"{what} must be a contiguous {'/'.join(str(d) for d in dtypes)} CPU tensor, got {t.dtype} "
                         f"on {t.device}{'' if t.is_contiguous() else ' (not contiguous)'}")


def normal(n: int, *, seed: int, stream: int, first: int = 0) -> torch.Tensor:
    """Normals number ``first … first + n − 1`` of (seed, stream): float32 ``[n]``."""
    lib = _require()
    out = torch.empty(int(n))
    if lib.mr_normal(out.data_ptr(), int(n), int(seed) & (2 ** 64 - 1), int(stream) & (2 ** 64 - 1), int(first)):
        raise MemoryError("mr_normal: out of memory")
    return out


def threefry4x32_20(counter: Sequence[int], key: Sequence[int]) -> List[int]:
    """The kernel's Threefry-4x32-20 block function (for known-answer tests)."""
    lib = _require()
    arr = ctypes.c_uint32 * 4
    out = arr()
    lib.mr_threefry4x32_20(arr(*counter), arr(*key), out)
    return list(out)


class VarianceCounts(NamedTuple):
    """Variances from an integer matmul of 8-bit codes: σ² = row_scale·col_scale·(counts + row_offset)."""

    counts: torch.Tensor  #: int32 ``[tiles, rows, planes, stride]``
    row_scale: torch.Tensor  #: float32 ``[tiles, rows]``
    row_offset: torch.Tensor  #: int32 ``[tiles, rows]``
    col_scale: torch.Tensor  #: float32 ``[tiles, planes, stride]``


_VAR_NONE, _VAR_FLOAT32, _VAR_COUNTS = 0, 1, 2  # fast_read.c's var_kind


def adc_accumulate(mean: torch.Tensor, var: Union[None, torch.Tensor, VarianceCounts], var_base: Optional[torch.Tensor],
                   out: torch.Tensor, *, cols: int, plane_weight: torch.Tensor, lim: float, seed: int, stream0: int,
                   row0: int, block: int, n_blocks: int, threads: Optional[int] = None) -> None:
    """Noise, ADC and recombination of one block of output columns, added into ``out``:
    out[r, c] += Σ_tile Σ_p plane_weight[p] · clip(round(mean + sqrt(max(σ², 0))·z), ±lim).

    :param mean: ``[tiles, rows, planes, stride]`` pre-ADC means in ADC steps; columns ``:cols`` are used
    :param var: the variances in steps² without the row term: float32 of mean's shape (σ² = var + var_base),
        or :class:`VarianceCounts`; None: no noise
    :param var_base: ``[tiles, rows]`` the row (r-independent) variance term in steps²
    :param out: ``[rows, ≥ cols]`` float32 view with unit column stride, accumulated in place
    :param plane_weight: ``[planes]`` 2^b of each plane
    :param stream0: noise stream of tile 0 (tile t uses stream0 + t)
    :param row0, block, n_blocks: where the block lies in the layer (rows row0 + r, column block ``block``
        of ``n_blocks``); they fix which normals the elements get: number
        ((row0 + r)·n_blocks + block)·planes·stride + p·stride + c of stream stream0 + tile
    :param threads: worker threads over rows (default: torch's intra-op thread count)
    """
    lib = _require()
    _check(mean, "mean")
    if mean.dim() != 4:
        raise ValueError(f"mean must be [tiles, rows, planes, stride], got {tuple(mean.shape)}")
    tiles, rows, planes, stride = mean.shape
    if not 0 < cols <= stride:
        raise ValueError(f"cols must be in 1..{stride}, got {cols}")
    kind, scales = _VAR_NONE, (None, None, None)
    if var is not None:
        _check(var_base, "var_base")
        if isinstance(var, VarianceCounts):
            kind, values = _VAR_COUNTS, var.counts
            _check(values, "var.counts", (torch.int32,))
            _check(var.row_scale, "var.row_scale")
            _check(var.row_offset, "var.row_offset", (torch.int32,))
            _check(var.col_scale, "var.col_scale")
            if var.row_scale.shape != (tiles, rows) or var.row_offset.shape != (tiles, rows) \
                    or var.col_scale.shape != (tiles, planes, stride):
                raise ValueError(f"var's scales do not fit mean {tuple(mean.shape)}")
            scales = (var.row_scale.data_ptr(), var.row_offset.data_ptr(), var.col_scale.data_ptr())
        else:
            kind, values = _VAR_FLOAT32, var
            _check(values, "var")
        if values.shape != mean.shape or var_base.shape != (tiles, rows):
            raise ValueError(f"var {tuple(values.shape)} / var_base {tuple(var_base.shape)} do not fit mean "
                             f"{tuple(mean.shape)}")
    if out.dtype != torch.float32 or out.device.type != "cpu" or out.dim() != 2 or out.stride(1) != 1 \
            or out.shape[0] != rows or out.shape[1] < cols:
        raise ValueError(f"out must be a float32 CPU [{rows}, >={cols}] view with unit column stride")
    _check(plane_weight, "plane_weight")
    if plane_weight.shape != (planes,):
        raise ValueError(f"plane_weight must have {planes} entries, got {tuple(plane_weight.shape)}")
    threads = max(1, min(threads or torch.get_num_threads(), rows))
    code = lib.mr_adc_accumulate(
        mean.data_ptr(), values.data_ptr() if kind else None, kind, *scales,
        var_base.data_ptr() if kind else None, out.data_ptr(), tiles, rows, rows, cols, planes, stride, out.stride(0),
        plane_weight.data_ptr(), float(lim), int(seed) & (2 ** 64 - 1), int(stream0) & (2 ** 64 - 1), row0, block,
        n_blocks, threads)
    if code:
        raise MemoryError("mr_adc_accumulate: out of memory")


if __name__ == "__main__":
    try:
        print(build(verbose=True))
    except RuntimeError as e:
        sys.exit(f"memristor_asr.memristor.kernel: {e}")
