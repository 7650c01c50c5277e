set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export XDG_CACHE_HOME=/tmp/cache
B=bin/resnet-gpu
L=$OUT/log.txt
$B devices >>$L 2>&1
echo "== b64 tune on" >>$L
timeout 100 $B bench --arch resnet50 --batch 64 --tune on --json >>$L 2>&1
echo "== b64 cached" >>$L
timeout 30 $B bench --arch resnet50 --batch 64 --json >>$L 2>&1
echo "== done" >>$L
