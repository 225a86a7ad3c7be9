"""The shipped Synaptogen parameter file: provenance, decoding, validation."""
import hashlib
import json

import pytest
import torch

from memristor_asr.memristor.cells import polyval
from memristor_asr.memristor.params import default_params_path, load_params

# SHA-256 of Synaptogen's default_params.json as recorded in the data provenance notes
SYNAPTOGEN_SHA256 = "1c1b317656231fa77204b389792058b422c6451af2b88987d56fff1cd41c4fc6"


def test_shipped_file_is_the_synaptogen_file():
    with open(default_params_path(), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == SYNAPTOGEN_SHA256


def test_decoded_shapes_and_derived_conductances():
    p = load_params()
    assert p.var_coefs.shape == (4, 44) and p.var_order == 10
    assert p.gmm_chol.shape == (3, 8, 8) and p.gmm_means.shape == (3, 8)
    assert torch.allclose(p.gmm_chol, torch.tril(p.gmm_chol))  # L_k[i, j] = LDtD[i, 8k + j] is lower triangular
    assert abs(float(p.gmm_weights.sum()) - 1.0) < 1e-12
    assert p.g_llrs == pytest.approx(2.69047e-4, rel=1e-5)
    assert p.g_hhrs == pytest.approx(-3.32319e-5, rel=1e-5)


@pytest.mark.parametrize("volt,i_llrs,i_hhrs", [(0.6, 1.6639e-4, -1.8164e-5), (0.1, 2.6712e-5, -3.325e-6),
                                                (-0.3, -7.6797e-5, 9.062e-6), (-0.6, -1.4303e-4, 1.4009e-5)])
def test_iv_polynomials_are_highest_power_first(volt, i_llrs, i_hhrs):
    p = load_params()
    v = torch.tensor(volt, dtype=torch.float64)
    assert float(polyval(p.llrs_poly, v)) == pytest.approx(i_llrs, rel=2e-3)
    assert float(polyval(p.hhrs_poly, v)) == pytest.approx(i_hhrs, rel=2e-3)
    assert float(polyval(p.llrs_poly, torch.tensor(0.0, dtype=torch.float64))) == 0.0


def test_var_blocks_grow_towards_lag_one():
    """B1 (oldest lag) is small, B10 (lag 1) large: the LRS self-coefficient is 0.047 vs 0.222."""
    var = load_params().var_coefs
    b1, b10 = var[:, 4:8], var[:, 40:44]
    assert float(b1[2, 2]) == pytest.approx(0.047, abs=5e-4)
    assert float(b10[2, 2]) == pytest.approx(0.222, abs=5e-4)


def _write(tmp_path, data, name="p.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_missing_key_is_named(tmp_path):
    with open(default_params_path(), encoding="utf-8") as f:
        data = json.load(f)
    del data["η"], data["VAR_010"]
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match=r"p\.json.*lacks key\(s\) η, VAR_010"):
        load_params(path)


def test_malformed_values_are_named(tmp_path):
    with open(default_params_path(), encoding="utf-8") as f:
        data = json.load(f)
    data["LDtD"] = data["LDtD"][:7]
    with pytest.raises(ValueError, match=r"'LDtD' must be numbers of shape \(8, 24\), got \(7, 24\)"):
        load_params(_write(tmp_path, data))
    with open(default_params_path(), encoding="utf-8") as f:
        data = json.load(f)
    data["wk"] = [0.5, "x", 0.1]
    with pytest.raises(ValueError, match="'wk'"):
        load_params(_write(tmp_path, data))
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.json: not valid JSON"):
        load_params(bad)
