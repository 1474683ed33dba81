#!/usr/bin/env bash
# System packages the project needs: Debian's libllvm19 for Sionna RT (Dr.Jit's LLVM
# back-end; the libLLVM 15/16 of the base image abort the process). Idempotent.
set -u
if ls /usr/lib/x86_64-linux-gnu/libLLVM-19.so* /usr/lib/llvm-19/lib/libLLVM*.so* >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system: no apt-get here; install LLVM >= 17 yourself and set DRJIT_LIBLLVM_PATH (without it the Sionna RT tests fail with a one-line error)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-system: not root and no sudo; run 'apt-get install libllvm19' as root (without it the Sionna RT tests fail with a one-line error)" >&2
    exit 0
  fi
fi
echo "install-system: installing libllvm19 (for Sionna RT)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq && $SUDO apt-get install -y -qq libllvm19 >/dev/null
