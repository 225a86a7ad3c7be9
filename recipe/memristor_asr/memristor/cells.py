"""Vectorised Synaptogen ReRAM cells in torch (docs/DEVICE_MODEL.md §1): initialisation, programming
pulses and noisy reads, float32 on any device, seeded through a ``torch.Generator``.

State layout: the cycle features y are a feature-major ``[4, M]`` tensor (HRS Ω, US V, LRS Ω,
UR V), so the per-pulse threshold comparisons read contiguous rows. The latent VAR history and the
device-to-device vectors are cell-major, ``latent[M, 4p + 8] = [x_{n−p+1} … x_n | μ | σ]`` (the last
p latent vectors, oldest first, as in the reference ``Xhat``), so a new cycle gathers and rewrites whole
rows and ``history @ [B1 | … | Bp]ᵀ`` is the AR part of the next draw x_{n+1}.

Choices where the reference implementations differ (§1.7), documented once here:

- **Flags start as in the Python code**: ``in_hrs = in_lrs = False`` (the "intermediate" state with
  an HRS-like r). The Julia code starts in HRS; pass ``start_in_hrs=True`` for that. The difference
  only shows for pulses before the first SET / full RESET: a +2 V pulse is a (no-op) full RESET here,
  and a partial RESET voltage is accepted as a RESET.
- **No transition curve before the first SET**: the Python port leaves the RESET-curve
  coefficients uninitialised, so a partial RESET of a never-SET cell yields a garbage r. Here such a
  partial RESET leaves r unchanged (the cell is already at its HRS). Every paper programming sequence
  ends with +2 V and a SET, which overwrite r, so reads are not affected.
- **UR_state is its own tensor**: the Python port aliases it to the row y_UR until the first VAR
  draw, so an early RESET also overwrote y_UR. That aliasing is not reproduced.
- **Random stream**: ε of a VAR step is drawn only for the cells that start a new cycle (the numpy
  code draws it for all cells and discards most). Same distribution, different stream; results are
  reproducible for a given seed and device type (CPU and CUDA generators differ).
"""
from __future__ import annotations

import math
from typing import Literal, Optional, Sequence, Tuple, Union

import torch

from .params import SynaptogenParams, cached_default_params

__all__ = [
    "NoiseMode",
    "NOISE_MODES",
    "polyval",
    "iv_current",
    "r_from_resistance",
    "r_from_iv",
    "noise_weight",
    "read_noise",
    "CellArray",
]

NoiseMode = Literal["paper", "physical", "off"]
NOISE_MODES = ("paper", "physical", "off")

KB_T = 1.380649e-23 * 300.0  # J, Boltzmann constant times 300 K
ELEMENTARY_CHARGE = 1.602176634e-19  # C
# (bandwidth in Hz, "charge" in the shot-noise term): Synaptogen's physical values, and the values of
# the paper's torch read code (BW = 1e-8 and Euler's number, a port slip that the paper's results carry)
_NOISE_CONSTANTS = {"physical": (1e8, ELEMENTARY_CHARGE), "paper": (1e-8, math.e)}
ZERO_VOLTAGE = 1e-12  # V, replaces |V| in the Johnson term so 0 V gives a finite (zero) variance

F_HRS, F_US, F_LRS, F_UR = 0, 1, 2, 3  # feature rows


def polyval(coefs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Horner evaluation; ``coefs`` highest power first (numpy order), broadcast over ``x``."""
    acc = torch.zeros_like(x) + coefs[0]
    for c in coefs[1:]:
        acc = acc * x + c
    return acc


def iv_current(r: torch.Tensor, voltage: torch.Tensor, params: SynaptogenParams) -> torch.Tensor:
    """Noiseless current in A: I(r, V) = (1 − r)·I_LLRS(V) + r·I_HHRS(V) (§1.3), broadcast over r and V."""
    i_l = polyval(params.llrs_poly, voltage)
    return i_l + r * (polyval(params.hhrs_poly, voltage) - i_l)


def r_from_resistance(resistance: torch.Tensor, params: SynaptogenParams) -> torch.Tensor:
    """r giving static resistance R (Ω) at U0: (G_LLRS − 1/R) / (G_LLRS − G_HHRS)."""
    g_l, g_h = params.g_llrs, params.g_hhrs
    return (g_l - 1.0 / resistance) / (g_l - g_h)


def r_from_iv(current: torch.Tensor, voltage: torch.Tensor, params: SynaptogenParams) -> torch.Tensor:
    """r whose I–V curve passes through (V, I): (I − I_LLRS(V)) / (I_HHRS(V) − I_LLRS(V))."""
    i_l = polyval(params.llrs_poly, voltage)
    return (current - i_l) / (polyval(params.hhrs_poly, voltage) - i_l)


def noise_weight(voltage: torch.Tensor, mode: NoiseMode) -> torch.Tensor:
    """w(V) with read-noise variance σ² = w(V)·|I| (Johnson + shot noise, §1.6 / docs/CROSSBAR_MAPPING.md §2.7), in A.

    ``paper``: 4·kBT·BW/(|V| + 1e-12) + 2·e·BW with BW = 1e-8, e = Euler's number (the paper's code);
    ``physical``: 4·kBT·BW/|V| + 2·q·BW with BW = 1e8 Hz, q the elementary charge, V = 0 → 1e-12 V.
    """
    if mode == "off":
        return torch.zeros_like(voltage)
    if mode not in _NOISE_CONSTANTS:
        raise ValueError(f"noise mode must be one of {NOISE_MODES}, got {mode!r}")
    bw, charge = _NOISE_CONSTANTS[mode]
    if mode == "paper":
        denom = voltage.abs() + ZERO_VOLTAGE
    else:
        denom = torch.where(voltage == 0, torch.full_like(voltage, ZERO_VOLTAGE), voltage.abs())
    return (4.0 * KB_T * bw) / denom + 2.0 * charge * bw


def read_noise(current: torch.Tensor, voltage: torch.Tensor, mode: NoiseMode,
               generator: Optional[torch.Generator] = None, noise_shape: Optional[Sequence[int]] = None
               ) -> torch.Tensor:
    """Gaussian read noise σ·z for per-cell currents ``current`` read at ``voltage`` (broadcastable).

    :param noise_shape: shape of the standard-normal draw z, broadcast against σ (default: σ's
        shape). The paper's torch read draws z without the leading batch dimension (docs/CROSSBAR_MAPPING.md §2.7).
    """
    var = noise_weight(voltage, mode) * current.abs()
    if mode == "off":
        return torch.zeros_like(var)
    shape = var.shape if noise_shape is None else tuple(noise_shape)
    z = torch.randn(shape, generator=generator, device=var.device, dtype=var.dtype)
    return var.sqrt() * z


def _features(mu: torch.Tensor, sigma: torch.Tensor, x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """y = μ + σ ⊙ Γ(x), HRS exponentiated (Ω); all ``[4, K]``, gamma ``[4, 5]``."""
    g = gamma[:, :1].expand_as(x).clone()
    for j in range(1, gamma.shape[1]):
        g = g * x + gamma[:, j: j + 1]
    y = mu + sigma * g
    y[F_HRS] = torch.pow(10.0, y[F_HRS])
    return y


class CellArray:
    """M Synaptogen cells with independent device-to-device draws, state kept on ``device``.

    :param shape: cell shape, e.g. ``(num_arrays, cells_per_array)``; voltages broadcast against it
    :param generator: torch.Generator on ``device``; all draws (init and VAR steps) come from it
    :param params: Synaptogen parameters (default: the shipped file)
    :param device: where the state lives (default: the generator's device)
    :param start_in_hrs: Julia flag initialisation (``in_hrs=True``) instead of the Python one
    """

    def __init__(self, shape: Union[int, Sequence[int]], *, generator: torch.Generator,
                 params: Optional[SynaptogenParams] = None, device: Union[str, torch.device, None] = None,
                 start_in_hrs: bool = False):
        self.shape: Tuple[int, ...] = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
        if any(s < 0 for s in self.shape):
            raise ValueError(f"cell shape must be non-negative, got {self.shape}")
        self.num_cells = math.prod(self.shape)
        self.device = torch.device(device) if device is not None else generator.device
        if self.device.type != generator.device.type:
            raise ValueError(f"generator is on {generator.device}, cells on {self.device}")
        self.generator = generator
        self.params = (params or cached_default_params()).to(self.device)
        p, m, g, dev = self.params, self.num_cells, generator, self.device
        order = self.var_order = p.var_order
        self._b0_t = p.var_coefs[:, :4].T.contiguous()  # innovation factor B0, transposed
        self._ar_t = p.var_coefs[:, 4:].T.contiguous()  # [B1 | … | Bp]ᵀ, B1 on x_{n−p+1}, Bp on x_n

        # device-to-device: GMM component, then [μ; σ] = μ_k + L_k ε_D (§1.4 items 1–2)
        comp = torch.bucketize(torch.rand(m, generator=g, device=dev), torch.cumsum(p.gmm_weights, 0)[:-1],
                               right=True)
        eps_d = torch.randn(8, m, generator=g, device=dev)
        d2d = torch.empty(8, m, device=dev)
        for k in range(p.gmm_weights.shape[0]):
            sel = (comp == k).nonzero().squeeze(1)
            d2d[:, sel] = p.gmm_means[k].unsqueeze(1) + p.gmm_chol[k] @ eps_d[:, sel]
        self.component = comp
        # first latent vector from an all-zero history; it becomes lag 1 (§1.4 item 3)
        x0 = (torch.randn(m, 4, generator=g, device=dev) @ self._b0_t).T
        # cell-major [x_{n−p+1} … x_n (oldest first) | μ | σ]; the history starts at zero
        self.latent = torch.zeros(m, 4 * order + 8, device=dev)
        self.latent[:, 4 * (order - 1): 4 * order] = x0.T
        self.latent[:, 4 * order:] = d2d.T
        self.y = _features(d2d[:4], d2d[4:], x0, p.gamma)  # [4, M]: HRS Ω, US V, LRS Ω, UR V
        self.r_hrs = r_from_resistance(self.y[F_HRS], p)  # r of this cycle's HRS and LRS (cached)
        self.r_lrs = r_from_resistance(self.y[F_LRS], p)
        self.r = self.r_hrs.clone()  # starts at its HRS
        self.ur_state = self.y[F_UR].clone()
        self.cycle = torch.zeros(m, dtype=torch.int32, device=dev)
        self.in_hrs = torch.full((m,), bool(start_in_hrs), dtype=torch.bool, device=dev)
        self.in_lrs = torch.zeros(m, dtype=torch.bool, device=dev)
        self.reset_a = torch.zeros(m, device=dev)  # RESET transition curve I_t = a|Umax − U|^η + c
        self.reset_c = torch.zeros(m, device=dev)
        self.has_curve = torch.zeros(m, dtype=torch.bool, device=dev)

    # ------------------------------------------------------------------ views
    def _flat_voltage(self, voltage: Union[float, torch.Tensor]) -> torch.Tensor:
        v = torch.as_tensor(voltage, dtype=torch.float32, device=self.device)
        try:
            v = torch.broadcast_to(v, self.shape)
        except RuntimeError as e:
            raise ValueError(f"voltage of shape {tuple(v.shape)} does not broadcast to cells {self.shape}") from e
        return v.reshape(-1)

    @property
    def features(self) -> torch.Tensor:
        """Current cycle features ``[4, *shape]``: HRS (Ω), US (V), LRS (Ω), UR (V)."""
        return self.y.view(4, *self.shape)

    @property
    def mu(self) -> torch.Tensor:
        """Device-to-device location ``[4, *shape]`` (log10 HRS, US, LRS, UR)."""
        return self.latent[:, -8:-4].T.reshape(4, *self.shape)

    @property
    def sigma(self) -> torch.Tensor:
        """Device-to-device scale ``[4, *shape]``."""
        return self.latent[:, -4:].T.reshape(4, *self.shape)

    @property
    def state(self) -> torch.Tensor:
        """r ``[*shape]``: mixing weight between the LLRS (0) and HHRS (1) curves."""
        return self.r.view(self.shape)

    # ------------------------------------------------------------------ programming
    def apply_voltage(self, voltage: Union[float, torch.Tensor]) -> None:
        """Apply one pulse (V, broadcast to the cell shape); SET / RESET per §1.5.

        The masks are evaluated once from the state before the pulse; updates follow in the order
        SET, new C2C sample, RESET-curve coefficients, RESET bookkeeping, partial RESET, full RESET.
        Cheap updates use ``torch.where`` over all cells; the VAR step and the transition curve,
        which touch few cells, work on gathered indices.
        """
        p = self.params
        u = self._flat_voltage(voltage)
        set_m, reset_m = self._switching(u)
        full_m = reset_m & (u >= p.umax)
        partial_m = reset_m & (u < p.umax)
        new_cycle = self.in_lrs & reset_m

        # 1. SET: jump to this cycle's LRS; the next RESET threshold is this cycle's UR
        self.r = torch.where(set_m, self.r_lrs, self.r)
        self.ur_state = torch.where(set_m, self.y[F_UR], self.ur_state)
        self.in_lrs |= set_m
        self.in_hrs &= ~set_m

        idx = new_cycle.nonzero().squeeze(1)
        if idx.numel():
            # 2. first RESET after a SET: new C2C sample
            self._draw_cycle(idx)
            # 3. transition curve from the LRS curve at the old threshold to the new HRS at Umax
            idx = idx[~full_m[idx]]
            if idx.numel():
                x1 = self.ur_state[idx]
                y1 = iv_current(self.r[idx], x1, p)  # r is still the LRS state
                y2 = iv_current(self.r_hrs[idx], torch.full_like(x1, p.umax), p)
                self.reset_a[idx] = (y1 - y2) / torch.pow((p.umax - x1).abs(), p.eta)
                self.reset_c[idx] = y2
                self.has_curve[idx] = True

        # 4. RESET bookkeeping: later pulses must exceed this voltage to continue the RESET
        self.in_lrs &= ~reset_m
        self.ur_state = torch.where(reset_m, u, self.ur_state)

        # 5. partial RESET: the curve passes through the transition curve at U
        idx = (partial_m & self.has_curve).nonzero().squeeze(1)
        if idx.numel():
            ui = u[idx]
            i_t = self.reset_a[idx] * torch.pow((p.umax - ui).abs(), p.eta) + self.reset_c[idx]
            self.r[idx] = r_from_iv(i_t, ui, p)

        # 6. full RESET: this cycle's HRS
        self.in_hrs |= full_m
        self.r = torch.where(full_m, self.r_hrs, self.r)

    def _switching(self, u: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(SET mask, RESET mask) of a pulse of flat voltages ``u`` on the current state."""
        return ~self.in_lrs & (u <= self.y[F_US]), ~self.in_hrs & (u > self.ur_state)

    def would_switch(self, voltage: Union[float, torch.Tensor]) -> bool:
        """Whether a pulse of ``voltage`` would change any cell (start a SET or continue a RESET)."""
        set_m, reset_m = self._switching(self._flat_voltage(voltage))
        return bool((set_m | reset_m).any())

    def _draw_cycle(self, idx: torch.Tensor) -> None:
        """One VAR(p) step for cells ``idx``: x_{n+1} = B0 ε + Σ_{j=1..p} B_{p+1−j} x_{n+1−j}; new y.

        The gathered rows are shifted by one lag and written back whole.
        """
        h = 4 * self.var_order
        lat = self.latent.index_select(0, idx)  # [K, 4p + 8]
        eps = torch.randn(idx.numel(), 4, generator=self.generator, device=self.device)
        x = eps @ self._b0_t + lat[:, :h] @ self._ar_t  # [K, 4]
        lat = torch.cat([lat[:, 4:h], x, lat[:, h:]], dim=1)  # shift the history by one lag
        self.latent.index_copy_(0, idx, lat)
        self.cycle[idx] += 1
        y = _features(lat[:, h: h + 4].T, lat[:, h + 4:].T, x.T, self.params.gamma)
        self.y[:, idx] = y
        self.r_hrs[idx] = r_from_resistance(y[F_HRS], self.params)
        self.r_lrs[idx] = r_from_resistance(y[F_LRS], self.params)

    def history(self) -> torch.Tensor:
        """Latent VAR history ``[*shape, p, 4]``, oldest (x_{n−p+1}) to newest (x_n)."""
        return self.latent[:, : 4 * self.var_order].reshape(*self.shape, self.var_order, 4)

    # ------------------------------------------------------------------ reading
    def current(self, voltage: Union[float, torch.Tensor]) -> torch.Tensor:
        """Noiseless read current in A, ``[*shape]`` (reading never changes the state)."""
        return iv_current(self.r, self._flat_voltage(voltage), self.params).view(self.shape)

    def read(self, voltage: Union[float, torch.Tensor], noise: NoiseMode = "physical",
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Noisy read current in A, ``[*shape]``: I(r, V) + σ_n z with fresh z per cell (§1.6).

        :param noise: ``physical`` (Synaptogen's Iread, the default here), ``paper`` or ``off``
        :param generator: for z (default: the array's own generator)
        """
        v = self._flat_voltage(voltage)
        i = iv_current(self.r, v, self.params)
        if noise != "off":
            i = i + read_noise(i, v, noise, generator if generator is not None else self.generator)
        return i.view(self.shape)
