#!/usr/bin/env bash
# Idempotent set-up of a fresh machine for memristor-asr.
#
#   tools/install.sh [--with-slurm]
#
# 1. Debian packages: espeak-ng + sox (embedded corpus), sctk (sclite), the compiler and
#    Boost for KenLM's lmplz/build_binary, optionally (the test set-up) slurm-wlm + munge for the
#    cluster tests and chromium for the headless-browser test of `sis manager --http`.
# 2. .venv at the repository root with torch 2.13.0 (CPU build, from local disk); a machine
#    whose python already has a CUDA torch keeps it (the venv then sees system packages).
# 3. The pinned Python dependencies (requirements*.txt) and `pip install -e .`.
# 4. lmplz / build_binary / query / interpolate compiled from the kenlm source distribution into .venv/bin.
# 5. The memristor read kernel compiled into its cache (it would otherwise build on first use).
# Everything is fetched here, at install time; nothing is downloaded while the pipeline runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WITH_SLURM=0
for a in "$@"; do
  case "$a" in
    --with-slurm) WITH_SLURM=1 ;;
    *) echo "install.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
log() { printf '\n== %s\n' "$*"; }

# ---------------------------------------------------------------- Debian packages
APT_PKGS=(sox espeak-ng sctk cmake g++ make libboost-program-options-dev libboost-system-dev
          libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev libeigen3-dev)
[ "$WITH_SLURM" = 1 ] && APT_PKGS+=(slurm-wlm munge chromium)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- Python venv + torch
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if "$PY" -c 'import torch,sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
    log "venv: reusing the system's CUDA torch ($("$PY" -c 'import torch; print(torch.__version__)'))"
    "$PY" -m venv --system-site-packages .venv
  else
    log "venv: creating .venv"
    "$PY" -m venv .venv
  fi
fi
VPY="$ROOT/.venv/bin/python"
PIP=("$VPY" -m pip install -q --disable-pip-version-check)
if ! "$VPY" -c 'import torch' 2>/dev/null; then
  log "pip: torch==2.13.0 (CPU build from local disk)"
  "${PIP[@]}" torch==2.13.0
fi
TORCH_VER=$("$VPY" -c 'import torch; print(torch.__version__.split("+")[0])')
log "pip: dependencies (torch $TORCH_VER kept)"
# Pin torch in the same command so that no dependency drags in another (CUDA) build.
"${PIP[@]}" "torch==$TORCH_VER" -r requirements.txt
"${PIP[@]}" --no-deps -r requirements-test.txt i6-models==1.20260827.111911
# The PyPI torchaudio wheel is a CUDA build: its compiled extensions cannot load next to a CPU
# torch. Without them torchaudio runs in pure-Python mode, which has all we use.
SITE=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if ! "$VPY" -c 'import torchaudio' 2>/dev/null; then
  rm -f "$SITE"/torchaudio/lib/*.so
fi
"$VPY" -c 'import torchaudio' || { echo "install.sh: torchaudio does not import" >&2; exit 1; }
"${PIP[@]}" --no-build-isolation -e . 2>/dev/null || "${PIP[@]}" -e .

# ---------------------------------------------------------------- KenLM command-line tools
if [ ! -x .venv/bin/lmplz ] || [ ! -x .venv/bin/build_binary ] || [ ! -x .venv/bin/interpolate ]; then
  log "kenlm: building lmplz/build_binary/query/interpolate from the kenlm 0.3.0 source distribution"
  B=$(mktemp -d)
  "$VPY" -m pip download -q --no-deps --no-binary kenlm kenlm==0.3.0 -d "$B"
  tar xzf "$B"/kenlm-0.3.0.tar.gz -C "$B"
  cmake -S "$B/kenlm-0.3.0" -B "$B/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  # interpolate (log-linear, weights tuned on dev) is built only where CMake finds Eigen 3
  make -C "$B/build" -j"$(nproc)" lmplz build_binary query interpolate >/dev/null
  cp "$B"/build/bin/{lmplz,build_binary,query,interpolate} .venv/bin/
  rm -rf "$B"
fi

# ---------------------------------------------------------------- memristor read kernel
log "memristor: compiling the fast-read kernel (cached per CPU type)"
"$VPY" -m memristor_asr.memristor.kernel

"$ROOT/.venv/bin/sis" --help >/dev/null
"$VPY" -c 'import sisyphus, memristor_asr, flashlight.lib.text.decoder, kenlm, h5py, soundfile'
log "install: done (.venv ready; KenLM tools in .venv/bin)"
