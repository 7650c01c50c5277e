set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export XDG_CACHE_HOME=/tmp/cache
mkdir -p /tmp/cache/resnet-gpu
T=/tmp/cache/resnet-gpu/tune-7b437773be38cdfa.json
cp .ci/tmp/tune.json $T
B=bin/resnet-gpu
L=$OUT/log.txt
$B devices >>$L 2>&1
echo "== tuned (cache from run 4)" >>$L
timeout 40 $B bench --arch resnet50 --batch 64 --tune auto --json >>$L 2>&1
python3 - "$T" <<'PY' 2>>$L || sed -i 's/\("conv2d(n=64,c=64,h=56,w=56,o=64,k=3x3,s=1,p=1,relu)": *\)"tiled64"/\1"wino"/' "$T"
import json,sys
p=sys.argv[1]; d=json.load(open(p)); d["conv2d(n=64,c=64,h=56,w=56,o=64,k=3x3,s=1,p=1,relu)"]="wino"; json.dump(d,open(p,"w"))
PY
grep -o '"conv2d(n=64,c=64,h=56,w=56,o=64,k=3x3,s=1,p=1,relu)": *"[a-z0-9_]*"' $T >>$L
echo "== tuned, layer1 3x3 forced to wino" >>$L
timeout 40 $B bench --arch resnet50 --batch 64 --tune auto --json >>$L 2>&1
echo "== untuned defaults" >>$L
timeout 40 $B bench --arch resnet50 --batch 64 --tune off --json >>$L 2>&1
echo "== shaders benchmarks" >>$L
CI=true timeout 120 bin/shaders.test -test.run '^$' -test.bench 'Conv_(L1_3x3_B64|L3_3x3|L4_3x3|L1_3x3)$' -test.benchtime 100x >>$L 2>&1
echo "== done" >>$L
