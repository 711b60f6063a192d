#!/bin/bash
# Makes the folder the GPU benchmarks take to the lent GPU machine (docs/GPU.md), which has
# no Node.js, no Vulkan loader and no network:
#
#   bash bench/gpu-carry.sh DIR [REV...]
#
# DIR/gl/*.deb     the Vulkan loader and the GL dispatch libraries NVIDIA's Vulkan ICD needs
# DIR/node.xz      this machine's Node.js binary
# DIR/app.tar.xz   medcap built, with its production node_modules trimmed to linux-x64 and to
#                  what Node runs (about 24 MB), so that DIR plus the checkout stay under the
#                  device tool's 64 MiB.
# DIR/dist-REV.tar.xz  for each REV given: that commit's dist only (about 1 MB), which
#                  gpu-setup.sh runs with the app's node_modules, as a baseline in the same command.
# Run from the repository root on Debian 12 x86-64 after `npm ci`.
set -euo pipefail
DIR=${1:?dir}
shift
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
  | grep -v -E '^node_modules/onnxruntime-web$' > "$app/keep.txt"
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
rm -f "$DIR"/dist-*.tar.xz
for rev in "$@"; do
  base=$(mktemp -d)
  git archive "$rev" src tsconfig.json tsconfig.build.json package.json | tar -x -C "$base"
  ln -s "$PWD/node_modules" "$base/node_modules"
  (cd "$base" && npx tsc -p tsconfig.build.json --outDir "$base/dist")
  tar -cf - --exclude='*.map' --exclude='*.d.ts' -C "$base" dist | xz -T2 -6 > "$DIR/dist-$rev.tar.xz"
  rm -rf "$base"
done
du -sh "$DIR"/*
