#!/bin/sh
# Build kernel.wasm from kernel.c (npm run build:wasm).
#
# Needs clang and wasm-ld with the wasm32 target: on Debian/Ubuntu `apt-get install clang lld`.
# The committed kernel.wasm was built with the compiler named in kernel.wasm.txt (Debian 12's
# clang 14.0.6); test/agents/wasm-engine.test.ts rebuilds with the same flags and compares bytes
# when that compiler is present. No libc, no debug info, no name/producers sections, so the output
# depends only on kernel.c, these flags and the compiler version.
#
# usage: build.sh [out.wasm]   (default: kernel.wasm next to this script)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/kernel.wasm"}
CC=${CC:-clang}
command -v "$CC" >/dev/null 2>&1 || { echo "build.sh: $CC not found (apt-get install clang lld)" >&2; exit 127; }
command -v wasm-ld >/dev/null 2>&1 || { echo "build.sh: wasm-ld not found (apt-get install lld)" >&2; exit 127; }
cd "$here"
"$CC" --target=wasm32 -O3 -msimd128 -mbulk-memory -ffreestanding -nostdlib -fno-ident \
  -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--strip-all -Wl,-z,stack-size=65536 -Wl,--initial-memory=1048576 \
  -o "$out" kernel.c
if [ -z "${1:-}" ]; then
  "$CC" --version | head -n 1 > "$here/kernel.wasm.txt"
fi
