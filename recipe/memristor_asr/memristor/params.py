"""The fitted Synaptogen parameters (docs/DEVICE_MODEL.md §1.1), loaded from the shipped JSON file.

``data/default_params.json`` is a byte-exact copy of the Synaptogen data file (T. Hennen et al.,
MIT licence; provenance in the project docs). The numbers are read from it at run time and never
retyped. :func:`load_params` validates keys and shapes and decodes the packed layouts:

- polynomials stay highest power first (numpy ``polyval`` order);
- ``LDtD`` (8 × 24) becomes three 8 × 8 lower-triangular Cholesky factors, ``L_k[i, j] = LDtD[i, 8k + j]``;
- ``VAR_010`` (4 × 44) is kept as ``[B0 | B1 | … | B10]``: B0 is the innovation factor, B1 multiplies
  the oldest lag x_{n−10} and B10 the newest x_{n−1}.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Dict, Optional, Union

import torch

__all__ = ["SynaptogenParams", "load_params", "cached_default_params", "default_params_path", "VAR_ORDER"]

VAR_ORDER = 10  # p: the VAR order used by Synaptogen's loaders (and the paper); needs VAR_010

# JSON key -> expected shape (a list of scalars is (n,), a list of rows (rows, cols), () a scalar)
_EXPECTED_SHAPES: Dict[str, tuple] = {
    "HHRS": (6,),
    "LLRS": (7,),
    "η": (),
    "U₀": (),
    "Umax": (),
    "wk": (3,),
    "μDtD": (8, 3),
    "LDtD": (8, 24),
    "γ": (4, 5),
    **{f"VAR_{q:03d}": (4, 4 * (q + 1)) for q in range(1, 11)},
}


def default_params_path() -> str:
    """Path of the parameter file shipped inside the package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "default_params.json")


def _shape_of(value) -> Optional[tuple]:
    """Shape of a JSON scalar / list / list of equal-length lists of numbers, None if ragged or non-numeric."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ()
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return (len(value),)
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        inner = {_shape_of(v) for v in value}
        if len(inner) == 1:
            (s,) = inner
            if s is not None and len(s) == 1:
                return (len(value), s[0])
    return None


@dataclass(frozen=True)
class SynaptogenParams:
    """Decoded Synaptogen parameters, float64 CPU tensors (cast with :meth:`to`).

    Units: currents in A, voltages in V, resistances in Ω (HRS features in log10 Ω).
    """

    hhrs_poly: torch.Tensor  # [6] I_HHRS(V), highest power first
    llrs_poly: torch.Tensor  # [7] I_LLRS(V), highest power first
    eta: float  # exponent of the RESET transition curve
    u0: float  # V, voltage that defines static resistance
    umax: float  # V, any RESET voltage >= umax is a full RESET
    gmm_weights: torch.Tensor  # [3] normalised to sum 1
    gmm_means: torch.Tensor  # [3, 8] mean of component k: [mu_HRS, mu_US, mu_LRS, mu_UR, sigma_HRS, ...]
    gmm_chol: torch.Tensor  # [3, 8, 8] lower-triangular Cholesky factors L_k
    gamma: torch.Tensor  # [4, 5] per-feature quantile polynomial, highest power first
    var_coefs: torch.Tensor  # [4, 4 (p+1)] = [B0 | B1 .. Bp], B_p multiplies x_{n-1}
    source: str  # file the numbers came from

    @property
    def var_order(self) -> int:
        return self.var_coefs.shape[1] // 4 - 1

    @property
    def g_llrs(self) -> float:
        """Static conductance of the LLRS curve at U0, in S (≈ 2.69e-4)."""
        return _polyval(self.llrs_poly, self.u0) / self.u0

    @property
    def g_hhrs(self) -> float:
        """Static conductance of the (virtual) HHRS curve at U0, in S (negative, ≈ −3.32e-5)."""
        return _polyval(self.hhrs_poly, self.u0) / self.u0

    def to(self, device: Union[str, torch.device, None] = None, dtype: torch.dtype = torch.float32) -> "SynaptogenParams":
        """Copy with all tensors on ``device`` in ``dtype`` (scalars stay Python floats)."""
        conv = {k: (v.to(device=device, dtype=dtype) if isinstance(v, torch.Tensor) else v)
                for k, v in self.__dict__.items()}
        return SynaptogenParams(**conv)


def _polyval(coefs: torch.Tensor, x: float) -> float:
    acc = 0.0
    for c in coefs.tolist():
        acc = acc * x + c
    return acc


def load_params(path: Optional[str] = None, var_order: int = VAR_ORDER) -> SynaptogenParams:
    """Load and validate a Synaptogen parameter file.

    :param path: JSON file; default: the copy shipped with the package
    :param var_order: VAR order p; the smallest stored fit of order q >= p is used, and must have q == p
        (truncating a higher-order fit would keep the oldest-lag blocks, docs/DEVICE_MODEL.md §1.1)
    :raises ValueError: naming the file and the missing / malformed key
    """
    path = os.fspath(path) if path is not None else default_params_path()
    try:
        with open(path, "rt", encoding="utf-8") as f:
            raw = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level, got {type(raw).__name__}")
    missing = [k for k in _EXPECTED_SHAPES if k not in raw]
    if missing:
        raise ValueError(f"{path}: Synaptogen parameter file lacks key(s) {', '.join(missing)}")
    for key, shape in _EXPECTED_SHAPES.items():
        got = _shape_of(raw[key])
        if got != shape:
            raise ValueError(f"{path}: key '{key}' must be numbers of shape {shape}, got "
                             f"{'a non-numeric or ragged value' if got is None else got}")
        flat = [raw[key]] if shape == () else (raw[key] if len(shape) == 1 else [v for row in raw[key] for v in row])
        if not all(math.isfinite(v) for v in flat):
            raise ValueError(f"{path}: key '{key}' contains a non-finite number")
    if not 1 <= var_order <= 10:
        raise ValueError(f"var_order must be in 1..10, got {var_order}")

    t = lambda key: torch.tensor(raw[key], dtype=torch.float64)  # noqa: E731
    wk = t("wk")
    if (wk < 0).any() or wk.sum() <= 0:
        raise ValueError(f"{path}: key 'wk' must be non-negative GMM weights with a positive sum")
    ldtd = t("LDtD")
    chol = torch.stack([ldtd[:, 8 * k: 8 * (k + 1)] for k in range(3)])  # L_k[i, j] = LDtD[i, 8k + j]
    var = t(f"VAR_{var_order:03d}")  # the fit of order exactly p: no truncation needed
    return SynaptogenParams(
        hhrs_poly=t("HHRS"),
        llrs_poly=t("LLRS"),
        eta=float(raw["η"]),
        u0=float(raw["U₀"]),
        umax=float(raw["Umax"]),
        gmm_weights=wk / wk.sum(),
        gmm_means=t("μDtD").T.contiguous(),
        gmm_chol=chol,
        gamma=t("γ"),
        var_coefs=var,
        source=path,
    )


_CACHE: Dict[str, SynaptogenParams] = {}


def cached_default_params() -> SynaptogenParams:
    """The shipped parameters, loaded once per process."""
    if "default" not in _CACHE:
        _CACHE["default"] = load_params()
    return _CACHE["default"]

