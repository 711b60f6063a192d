# Sourced by the GPU benchmarks on the lent GPU machine: unpacks what CARRY holds
# (bench/gpu-carry.sh made it) into APP (default /opt/medcap) and points the Vulkan loader at
# the NVIDIA driver's ICD. Sets APP; puts APP's node first on PATH.
APP=${BENCH_APP:-/opt/medcap}
mkdir -p "$APP"
if [ -d /usr/local/nvidia ]; then
  for f in "$CARRY"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$ICD" ] && export VK_DRIVER_FILES=$ICD
[ -x "$APP/node" ] || { xz -dc "$CARRY/node.xz" > "$APP/node"; chmod +x "$APP/node"; }
# A warm machine keeps APP between calls: unpack again when the carried app changed.
carried=$(cksum < "$CARRY/app.tar.xz")
if [ ! -f "$APP/dist/cli/bin.js" ] || [ "$(cat "$APP/.carried" 2>/dev/null)" != "$carried" ]; then
  rm -rf "$APP/dist" "$APP/node_modules"
  xz -dc "$CARRY/app.tar.xz" | tar -x -C "$APP"
  echo "$carried" > "$APP/.carried"
fi
# Other builds of medcap to compare with (bench/gpu-carry.sh DIR REV): CARRY/dist-NAME.tar.xz,
# run as APP-NAME/dist with APP's node_modules.
for base in "$CARRY"/dist-*.tar.xz; do
  [ -f "$base" ] || continue
  name=$(basename "$base" .tar.xz)
  name=${name#dist-}
  rm -rf "$APP-$name" && mkdir -p "$APP-$name"
  xz -dc "$base" | tar -x -C "$APP-$name"
  ln -s "$APP/node_modules" "$APP-$name/node_modules"
  cp "$APP/package.json" "$APP-$name/"
done
export PATH="$APP:$PATH"
