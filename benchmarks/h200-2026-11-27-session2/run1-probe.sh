set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export XDG_CACHE_HOME=/tmp/cache
B=bin/resnet-gpu
L=$OUT/log.txt
step() { echo "== $(date +%T) $*" >>"$L"; }
$B devices >>"$L" 2>&1 || true
if ! grep -q NVIDIA "$L"; then export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; $B devices >>"$L" 2>&1; fi
step b1; timeout 60 $B bench --arch resnet50 --batch 1 --profile >>"$L" 2>&1
step b1-again; timeout 30 $B bench --arch resnet50 --batch 1 --runs 50 >>"$L" 2>&1
step b64; timeout 120 $B bench --arch resnet50 --batch 64 --profile >>"$L" 2>&1
step r18; timeout 30 $B bench --arch resnet18 --batch 1 >>"$L" 2>&1
cp -r /tmp/cache $OUT/cache 2>/dev/null
step done
