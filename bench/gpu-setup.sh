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
[ -f "$APP/dist/cli/bin.js" ] || xz -dc "$CARRY/app.tar.xz" | tar -x -C "$APP"
export PATH="$APP:$PATH"
