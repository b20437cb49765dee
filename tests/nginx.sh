#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# nginx with the kiovec module (tools/nginx), tested against the real nginx binary: files
# downloaded with curl and compared byte for byte (full, Range, HEAD, keep-alive, slow and
# vanishing clients, sendfile_max_chunk, limit_rate, files rewritten and truncated between
# requests), the module's own counters (kiovec_status) showing that kiovec sent them, a
# memory budget too small for a file (nginx's own path serves it), and an error log with no
# [alert], [crit] or [emerg]. kselftest-style TAP; the last line is "# Totals: ...".
#
#   nginx.sh [MODULE_SO]     (root; default: .build/nginx/ngx_http_kiovec_module.so)
#
# Where the running kiovec kernel module lacks KIOVEC_FEAT_TX_HEADER or TX_RANGE (or there is
# no /dev/kiovec), nginx must still serve every byte right through its own send chain: those
# checks run, and the ones that need the kiovec path are skipped with the reason.
set -u

NGINX=${NGINX:-/usr/sbin/nginx}
here=$(cd "$(dirname "$0")" && pwd)
so=${1:-${KIOVEC_NGINX_MODULE:-}}
if [ -z "$so" ]; then
	# In the tree (tests/) or installed by make into .build/FLAVOUR/tests/bin/.
	for c in "$here/../.build/nginx" "$here/../../../nginx" "$here/../../nginx"; do
		[ -f "$c/ngx_http_kiovec_module.so" ] && so=$(cd "$c" && pwd)/ngx_http_kiovec_module.so && break
	done
fi

n=0 pass=0 fail=0 skip=0
echo "TAP version 13"
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }
skip() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n $1 # SKIP $2"; }
check() { # check NAME DETAIL-IF-FAILED COMMAND...
	local name=$1 detail=$2
	shift 2
	if "$@"; then ok "$name"; else not_ok "$name" "$detail"; fi
}
note() { echo "# $*"; }
totals() {
	echo "1..$n"
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	[ "$fail" = 0 ]
	exit
}
skip_all() { skip "nginx with kiovec" "$1"; totals; }

[ "$(id -u)" = 0 ] || skip_all "needs root (nginx master as root, tmpfs mount, ulimit -l)"
[ -x "$NGINX" ] || skip_all "no $NGINX (Debian package nginx; scripts/build-nginx-module installs it)"
command -v curl >/dev/null || skip_all "no curl"
[ -n "$so" ] && [ -f "$so" ] || skip_all "no ngx_http_kiovec_module.so (run scripts/build-nginx-module)"
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null || skip_all "no user nobody / group nogroup"

P=$(mktemp -d /tmp/kiovec-nginx.XXXXXX)
chmod 755 "$P"
mkdir -p "$P/www" "$P/ext4" "$P/tmp" "$P/want"
master=
stop_nginx() {
	[ -n "$master" ] || return 0
	kill -QUIT "$master" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$master" 2>/dev/null; then kill -KILL "$master"; sleep 0.2; fi
	master=
}
cleanup() {
	stop_nginx
	mountpoint -q "$P/ext4" && umount "$P/ext4"
	mountpoint -q "$P/www" && umount "$P/www"
	rm -rf "$P"
}
trap cleanup EXIT

mount -t tmpfs -o size=96m,mode=755 kiovec-nginx "$P/www" || skip_all "cannot mount a tmpfs"
ext4=0
if command -v mkfs.ext4 >/dev/null && truncate -s 32M "$P/ext4.img" && mkfs.ext4 -q -F "$P/ext4.img" &&
	mount -o loop "$P/ext4.img" "$P/ext4" 2>/dev/null; then
	chmod 755 "$P/ext4"
	ext4=1
fi

# The files: sizes around page boundaries, the sizes of the benchmark, and bigger ones for
# the slow and vanishing clients and the cache bounds (kiovec_cache_size 4m below).
sizes=(1 4095 4096 4097 65536 1048589)
mk() { head -c "$2" /dev/urandom >"$1"; }
for s in "${sizes[@]}"; do
	mk "$P/www/f$s" "$s"
	[ $ext4 = 1 ] && mk "$P/ext4/f$s" "$s"
done
: >"$P/www/empty"
mk "$P/www/big" $((3 * 1024 * 1024))          # slow and vanishing clients
mk "$P/www/huge" $((5 * 1024 * 1024))         # larger than the cache: nginx's own path
for i in 1 2 3 4; do mk "$P/www/evict$i" $((1536 * 1024)); done
mk "$P/www/rewrite" 65536
mk "$P/www/trunc" 1048576
mk "$P/www/replace" 20000
seq 1 20000 >"$P/www/text"                    # multipart ranges are checked with grep
chmod -R a+r "$P/www"
[ $ext4 = 1 ] && chmod -R a+r "$P/ext4"
# The module caches only files that have not changed for 2 s.
sleep 2.2

port=
for p in $(seq 18080 18180); do
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || skip_all "no free port in 18080-18180"
base=http://127.0.0.1:$port

write_conf() { # write_conf CACHE_SIZE
	cat >"$P/nginx.conf" <<EOF
load_module $so;
user nobody nogroup;
worker_processes 1;
error_log $P/error.log notice;
pid $P/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $P/tmp/body;
    proxy_temp_path $P/tmp/proxy;
    fastcgi_temp_path $P/tmp/fastcgi;
    uwsgi_temp_path $P/tmp/uwsgi;
    scgi_temp_path $P/tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 10000;
    kiovec_cache_size $1;
    server {
        # A small send buffer: big responses go out in many partial sends and EAGAINs.
        listen 127.0.0.1:$port sndbuf=64k;
        location /k/ { alias $P/www/; kiovec on; }
        location /e/ { alias $P/ext4/; kiovec on; }
        location /c/ { alias $P/www/; kiovec on; sendfile_max_chunk 16k; }
        location /r/ { alias $P/www/; kiovec on; limit_rate 256k; }
        location /s/ { alias $P/www/; }
        location = /kiovec_status { kiovec_status; }
    }
}
EOF
}

start_nginx() { # start_nginx MEMLOCK_KB: the master's RLIMIT_MEMLOCK, inherited by workers
	rm -f "$P/nginx.pid"
	(
		# Hosts without CAP_SYS_RESOURCE (containers) can only lower it; the guest is root.
		ulimit -l "$1" 2>/dev/null || ulimit -S -l "$1" 2>/dev/null ||
			note "cannot set RLIMIT_MEMLOCK to $1 KiB: it stays $(ulimit -l)"
		exec "$NGINX" -p "$P" -c "$P/nginx.conf" -e "$P/error.log"
	) || return 1
	for _ in $(seq 100); do
		[ -s "$P/nginx.pid" ] && curl -s -m 5 -o /dev/null "$base/kiovec_status" && break
		sleep 0.1
	done
	master=$(cat "$P/nginx.pid" 2>/dev/null)
	[ -n "$master" ] && curl -s -m 20 -o /dev/null "$base/kiovec_status"
}

# The worker's counters (one worker: every request lands on it).
declare -A S
stats() { # stats: fills S from kiovec_status
	local k v
	S=()
	while read -r k v; do S[$k]=$v; done < <(curl -s -m 20 "$base/kiovec_status")
}
declare -A B
mark() { stats; B=(); for k in "${!S[@]}"; do B[$k]=${S[$k]}; done; }
delta() { echo $(( ${S[$1]:-0} - ${B[$1]:-0} )); }

# fetch URL OUT [curl args]: the HTTP status, body into OUT.
# Every transfer is bounded: a stuck response is a failed check, not a stuck suite.
fetch() { local u=$1 o=$2; shift 2; curl -s -m 60 -o "$o" -w '%{http_code}' "$@" "$u"; }
same() { cmp -s "$1" "$2"; }
got() { [ "$1" = "$2" ] && cmp -s "$3" "$4"; }   # got CODE WANT-CODE FILE WANT-FILE

write_conf 4m
"$NGINX" -p "$P" -c "$P/nginx.conf" -e "$P/error.log" -t >"$P/t.log" 2>&1
check "nginx -t accepts kiovec, kiovec_cache_size and kiovec_status" "$(tr '\n' ' ' <"$P/t.log")" \
	grep -q 'test is successful' "$P/t.log"

if ! start_nginx 65536; then
	not_ok "nginx starts with the kiovec module" "$(tail -n 5 "$P/error.log")"
	totals
fi
workers=$(ps -o pid= --ppid "$master" | tr -d ' ')
wuser=$(ps -o user= --ppid "$master" | sort -u | tr -d ' ')
check "nginx starts with the module; master root, workers nobody" "workers: $workers users: $wuser" \
	test -n "$workers" -a "$wuser" = nobody
wlock=$(awk '/Max locked memory/ {print $4}' "/proc/$workers/limits" 2>/dev/null)
note "worker $workers: RLIMIT_MEMLOCK $wlock bytes"

stats
kv=0
if [ "${S[available]:-}" = 1 ]; then
	kv=1
	ok "kiovec is available in the worker (features ${S[features]})"
else
	reason=$(curl -s -m 20 "$base/kiovec_status" | sed -n 's/^reason //p')
	skip "kiovec is available in the worker" "${reason:-no kiovec_status}: only nginx's own path is tested"
fi
kvcheck() { # kvcheck NAME DETAIL COMMAND...: a check of the kiovec path, skipped without it
	if [ $kv = 1 ]; then check "$@"; else skip "$1" "kiovec not available: ${reason:-?}"; fi
}

# --- Full downloads.
downloads() { # downloads PREFIX DIR: all sizes, byte for byte; prints failures
	local s bad=
	for s in "${sizes[@]}"; do
		code=$(fetch "$base/$1/f$s" "$P/got")
		[ "$code" = 200 ] && same "$P/got" "$2/f$s" || bad="$bad f$s($code)"
	done
	echo "$bad"
}
mark
bad=$(downloads k "$P/www")
code=$(fetch "$base/k/empty" "$P/got")
[ "$code" = 200 ] && [ ! -s "$P/got" ] || bad="$bad empty($code)"
stats
check "tmpfs: full downloads byte for byte (${#sizes[@]} sizes + empty)" "$bad" test -z "$bad"
kvcheck "tmpfs: kiovec sent every non-empty body (responses +$(delta responses), builds +$(delta builds))" \
	"responses +$(delta responses) builds +$(delta builds) fresh +$(delta fallback_fresh)" \
	test "$(delta responses)" = ${#sizes[@]} -a "$(delta builds)" = ${#sizes[@]}

mark
bad=$(downloads k "$P/www")
stats
kvcheck "tmpfs: the same files again come from the cache (hits +$(delta hits), builds +0)" \
	"hits +$(delta hits) builds +$(delta builds) responses +$(delta responses)" \
	test "$(delta hits)" -ge ${#sizes[@]} -a "$(delta builds)" = 0 -a "$(delta responses)" = ${#sizes[@]} -a -z "$bad"

if [ $ext4 = 1 ]; then
	mark
	bad=$(downloads e "$P/ext4")
	stats
	check "ext4: full downloads byte for byte" "$bad" test -z "$bad"
	kvcheck "ext4: kiovec sent every body (responses +$(delta responses))" "" \
		test "$(delta responses)" = ${#sizes[@]}
else
	skip "ext4: full downloads byte for byte" "no loop device or mkfs.ext4"
fi

mark
bad=$(downloads s "$P/www")
stats
check "a location without kiovec: byte for byte, and kiovec's counters do not move" \
	"$bad; transmits +$(delta transmits) fallbacks +$(delta fallback_chain)" \
	test -z "$bad" -a "$(delta transmits)" = 0 -a "$(delta fallback_chain)" = 0

# --- HEAD: no body, and nothing stray on the connection: a GET follows on the same one.
mark
hdrs=$(curl -s -m 60 -I "$base/k/f65536" -o /dev/null -D - --next -s -o "$P/got" -w '%{num_connects}' \
	"$base/k/f4097")
stats
cl=$(grep -i '^content-length:' <<<"$hdrs" | tr -dc 0-9)
conn=${hdrs##*$'\n'}
check "HEAD: Content-Length 65536, no body; the next GET on the connection is exact" \
	"length '$cl', connects $conn" got "$cl/$conn" 65536/0 "$P/got" "$P/www/f4097"
kvcheck "HEAD goes to nginx's path (no file buffer), the GET through kiovec" \
	"fallback_chain +$(delta fallback_chain) responses +$(delta responses)" \
	test "$(delta fallback_chain)" -ge 1 -a "$(delta responses)" = 1

# --- Ranges.
mark
bad= nr=0
range() { # range FILE SPEC START LEN
	local code
	code=$(fetch "$base/k/$1" "$P/got" -H "Range: bytes=$2")
	tail -c +$(($3 + 1)) "$P/www/$1" | head -c "$4" >"$P/want/r"
	nr=$((nr + 1))
	[ "$code" = 206 ] && same "$P/got" "$P/want/r" || bad="$bad $1:$2($code)"
}
range f65536 100-199 100 100
range f65536 -100 65436 100
range f65536 4000- 4000 61536
range f65536 0-0 0 1
range f4097 4090-4105 4090 7
range f1048589 1000000-1048588 1000000 48589
range f1048589 4096-8191 4096 4096
stats
check "Range: $nr single ranges byte for byte (206)" "$bad" test -z "$bad"
kvcheck "Range: served from the cached whole-file containers (KIOVEC_TX_RANGE, builds +0)" \
	"responses +$(delta responses) builds +$(delta builds)" \
	test "$(delta responses)" = $nr -a "$(delta builds)" = 0
code=$(fetch "$base/k/text" "$P/got" -H "Range: bytes=0-9,100-119")
ct=$(curl -s -m 60 -o /dev/null -w '%{content_type}' -H "Range: bytes=0-9,100-119" "$base/k/text")
multipart_ok() {
	[ "$code" = 206 ] && [[ $ct == multipart/byteranges* ]] &&
		grep -qF "$(head -c 10 "$P/www/text")" "$P/got" &&
		grep -qF "$(tail -c +101 "$P/www/text" | head -c 20)" "$P/got"
}
check "Range: a multipart response (two ranges) has both parts" "$code $ct" multipart_ok

# --- Keep-alive: many requests on one connection.
mark
urls=() outs=() wants=()
for i in $(seq 30); do
	s=${sizes[$((i % ${#sizes[@]}))]}
	urls+=("$base/k/f$s") wants+=("$P/www/f$s")
done
args=()
for i in "${!urls[@]}"; do args+=(-o "$P/ka$i" "${urls[$i]}"); done
connects=$(curl -s -m 120 -w '%{num_connects}\n' "${args[@]}" | awk '{ n += $1 } END { print n }')
bad=
for i in "${!urls[@]}"; do same "$P/ka$i" "${wants[$i]}" || bad="$bad $i"; done
stats
check "keep-alive: 30 responses on one connection, byte for byte" "connects $connects, bad:$bad" \
	test "$connects" = 1 -a -z "$bad"
kvcheck "keep-alive: all 30 through kiovec" "responses +$(delta responses)" test "$(delta responses)" = 30

# --- Partial sends: a slow reader, sendfile_max_chunk, limit_rate.
mark
code=$(fetch "$base/k/big" "$P/got" --limit-rate 2m)
stats
check "a slow reader (curl --limit-rate 2m) gets all 3 MiB byte for byte" "$code" \
	got "$code" 200 "$P/got" "$P/www/big"
kvcheck "a slow reader: kiovec resumed after EAGAIN (eagain +$(delta eagain), transmits +$(delta transmits))" \
	"responses +$(delta responses)" test "$(delta eagain)" -ge 1 -a "$(delta responses)" = 1
mark
code=$(fetch "$base/c/f1048589" "$P/got")
stats
check "sendfile_max_chunk 16k: 1 MiB byte for byte" "$code" \
	got "$code" 200 "$P/got" "$P/www/f1048589"
sent_calls=$(( $(delta transmits) - $(delta eagain) ))
kvcheck "sendfile_max_chunk 16k: at least 65 transmits that sent bytes (got $sent_calls)" \
	"bytes +$(delta bytes) responses +$(delta responses)" \
	test "$sent_calls" -ge 65 -a "$(delta responses)" = 1
mark
code=$(fetch "$base/r/f1048589" "$P/got" --max-time 30)
stats
check "limit_rate 256k: 1 MiB byte for byte" "$code" \
	got "$code" 200 "$P/got" "$P/www/f1048589"
kvcheck "limit_rate 256k: the body went through kiovec" "responses +$(delta responses)" \
	test "$(delta responses)" = 1
mark
pids=()
for i in 1 2 3 4; do fetch "$base/k/big" "$P/par$i" --limit-rate 4m >"$P/par$i.code" & pids+=($!); done
wait "${pids[@]}"
bad=
for i in 1 2 3 4; do [ "$(cat "$P/par$i.code")" = 200 ] && same "$P/par$i" "$P/www/big" || bad="$bad $i"; done
stats
check "4 slow readers at once: each gets the 3 MiB byte for byte" "bad:$bad" test -z "$bad"
kvcheck "4 slow readers at once: 4 responses from at most one new container" \
	"responses +$(delta responses) builds +$(delta builds)" \
	test "$(delta responses)" = 4 -a "$(delta builds)" -le 1

# --- A client that disconnects in the middle of the body.
# It reads 64 KiB of the 3 MiB and closes with the rest unread (an RST): nginx is waiting
# for room in the socket (a small sndbuf, a receive window that never opens further).
mark
vanish() {
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf 'GET /k/big HTTP/1.1\r\nHost: localhost\r\n\r\n' >&3
	timeout 30 head -c 65536 <&3 >"$P/vanish"
	exec 3<&-
}
vanish
sleep 0.5
stats
code=$(fetch "$base/k/f65536" "$P/got")
check "a client vanishing mid-body: the worker lives on and the next response is exact" \
	"pid ${S[pid]} vs $workers, $code" \
	got "${S[pid]}/$code" "$workers/200" "$P/got" "$P/www/f65536"
# nginx notices the reset on the read side (ngx_http_test_reading) or in the next transmit.
kvcheck "a client vanishing mid-body: the kiovec response was waiting (EAGAIN) and never completed" \
	"eagain +$(delta eagain) responses +$(delta responses) errors +$(delta errors)" \
	test "$(delta eagain)" -ge 1 -a "$(delta responses)" = 0 -a "$(delta errors)" -le 1

# --- Files that change between requests: the next response is the new file, never a mix.
f=$P/www/rewrite
mark
code=$(fetch "$base/k/rewrite" "$P/got")
check "a file before its rewrite: exact" "$code" got "$code" 200 "$P/got" "$f"
mk "$P/want/v2" 65536
dd if="$P/want/v2" of="$f" conv=notrunc status=none       # in place, same size
code=$(fetch "$base/k/rewrite" "$P/got")
check "rewritten in place: the next response is the new content" "$code" \
	got "$code" 200 "$P/got" "$P/want/v2"
mk "$P/want/v3" 65536
cp "$P/want/v3" "$f"                                      # truncated, then written again
code=$(fetch "$base/k/rewrite" "$P/got")
check "truncated and rewritten to the same size: the new content" "$code" \
	got "$code" 200 "$P/got" "$P/want/v3"
sleep 2.2
code=$(fetch "$base/k/rewrite" "$P/got")
stats
check "the rewritten file, once settled: the new content again" "$code" \
	got "$code" 200 "$P/got" "$P/want/v3"
kvcheck "the rewritten file: old container dropped (stale +$(delta stale)), new one built" \
	"stale +$(delta stale) builds +$(delta builds) fresh +$(delta fallback_fresh)" \
	test "$(delta stale)" -ge 1 -a "$(delta builds)" -ge 2
mk "$P/want/r2" 30000
cp "$P/want/r2" "$P/www/replace.new" && chmod a+r "$P/www/replace.new"
fetch "$base/k/replace" "$P/got" >/dev/null
mv "$P/www/replace.new" "$P/www/replace"                  # a new inode under the name
code=$(fetch "$base/k/replace" "$P/got")
check "replaced by rename: the new file" "$code" got "$code" 200 "$P/got" "$P/want/r2"

f=$P/www/trunc
cp "$f" "$P/want/t"
fetch "$base/k/trunc" "$P/got" >/dev/null
truncate -s 1000 "$f"
code=$(fetch "$base/k/trunc" "$P/got")
head -c 1000 "$P/want/t" >"$P/want/t1000"
check "truncated to 1000 bytes: the first 1000 bytes, nothing else" "$code $(stat -c %s "$P/got")" \
	got "$code" 200 "$P/got" "$P/want/t1000"
truncate -s 0 "$f"
code=$(fetch "$base/k/trunc" "$P/got")
check "truncated to 0: an empty 200" "$code $(stat -c %s "$P/got")" \
	got "$code" 200 "$P/got" /dev/null
mk "$P/want/t2" 200000
cat "$P/want/t2" >>"$f"
sleep 2.2
code=$(fetch "$base/k/trunc" "$P/got")
check "grown again with new bytes: exactly the new bytes" "$code" \
	got "$code" 200 "$P/got" "$P/want/t2"

# --- The cache's bound: kiovec_cache_size 4m.
mark
bad=
for i in 1 2 3 4 1 2; do
	fetch "$base/k/evict$i" "$P/got" >/dev/null
	same "$P/got" "$P/www/evict$i" || bad="$bad $i"
done
stats
check "4 files of 1.5 MiB through a 4 MiB cache, byte for byte" "$bad" test -z "$bad"
kvcheck "the cache stays under kiovec_cache_size and evicts (evictions +$(delta evictions), ${S[cache_bytes]} bytes)" \
	"evictions +$(delta evictions) bytes ${S[cache_bytes]} size ${S[cache_size]}" \
	test "$(delta evictions)" -ge 2 -a "${S[cache_bytes]:-0}" -le "${S[cache_size]:-0}" -a "${S[cache_size]:-0}" = 4194304
mark
code=$(fetch "$base/k/huge" "$P/got")
stats
check "a 5 MiB file (larger than the cache) byte for byte" "$code" \
	got "$code" 200 "$P/got" "$P/www/huge"
kvcheck "a file larger than the cache goes to nginx's own path, the whole response" \
	"fallback_size +$(delta fallback_size) responses +$(delta responses) builds +$(delta builds)" \
	test "$(delta fallback_size)" = 1 -a "$(delta responses)" = 0 -a "$(delta builds)" = 0

# --- The module's log: counters at worker exit, and nothing alarming.
kstat=$(curl -s -m 20 "$base/kiovec_status" | tr '\n' ' ')
stop_nginx
log_bad=$(grep -E '\[(alert|crit|emerg)\]' "$P/error.log")
check "error log: no [alert], [crit] or [emerg]" "$(head -c 600 <<<"$log_bad")" test -z "$log_bad"
exitline=$(grep -o 'kiovec: worker exits: responses [0-9]*' "$P/error.log" | tail -n 1)
kvcheck "the worker logs its counters at exit ($exitline)" "status was: $kstat" \
	test "${exitline##* }" = "${S[responses]:-x}"
note "status at the end: $kstat"

# --- A memory budget too small for a file: nginx's own path serves it.
write_conf 16m
: >"$P/error.log"
if start_nginx 256; then
	mark
	code=$(fetch "$base/k/f1048589" "$P/got")
	code2=$(fetch "$base/k/f4096" "$P/got2")
	stats
	check "RLIMIT_MEMLOCK 256 KiB: 1 MiB and 4 KiB files byte for byte" "$code $code2" \
		got "$code/$code2" 200/200 "$P/got" "$P/www/f1048589" && same "$P/got2" "$P/www/f4096"
	kvcheck "RLIMIT_MEMLOCK 256 KiB: the 1 MiB container is refused (ENOMEM), the 4 KiB one is not" \
		"fallback_build +$(delta fallback_build) responses +$(delta responses)" \
		test "$(delta fallback_build)" = 1 -a "$(delta responses)" = 1
	stop_nginx
	log_bad=$(grep -E '\[(alert|crit|emerg)\]' "$P/error.log")
	check "error log with the small budget: no [alert], [crit] or [emerg]" "$log_bad" test -z "$log_bad"
else
	not_ok "nginx starts with RLIMIT_MEMLOCK 256 KiB" "$(tail -n 5 "$P/error.log")"
fi

totals
