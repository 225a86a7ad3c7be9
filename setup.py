"""memristor-asr: conventional ASR on simulated memristor crossbars, as a Sisyphus pipeline.

Installs three top-level packages from their folders:
  sisyphus       <- tools/sisyphus     (our implementation of the Sisyphus workflow API, `sis`)
  memristor_asr  <- recipe/memristor_asr (jobs and library code)
  users          <- users              (experiment setups composed from recipe jobs)
"""
from setuptools import find_packages, setup


def _packages(root: str, top: str) -> dict:
    """Map every package below ``root/top`` to its folder."""
    found = [top] + [f"{top}.{p}" for p in find_packages(f"{root}/{top}")]
    return {p: f"{root}/{p.replace('.', '/')}" for p in found}


package_dir = {}
package_dir.update(_packages("tools", "sisyphus"))
package_dir.update(_packages("recipe", "memristor_asr"))
package_dir.update(_packages(".", "users"))
package_dir = {p: d[2:] if d.startswith("./") else d for p, d in package_dir.items()}

setup(
    name="memristor-asr",
    version="0.1.0",
    description="Conformer-CTC ASR on simulated Synaptogen memristor crossbars, as a Sisyphus pipeline",
    python_requires=">=3.10",
    packages=list(package_dir),
    package_dir=package_dir,
    package_data={"memristor_asr": ["memristor/data/*.json", "memristor/csrc/*.c", "corpus/data/*"]},
    entry_points={"console_scripts": ["sis=sisyphus.__main__:main", "sisyphus=sisyphus.__main__:main"]},
)
