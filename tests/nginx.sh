#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# nginx with the kiovec module (tools/nginx), tested against the real nginx binary: files
# downloaded with curl and compared byte for byte (full, Range, HEAD, keep-alive, slow and
# vanishing clients, sendfile_max_chunk, limit_rate, files rewritten and truncated between
# requests), the module's own counters (kiovec_status) showing that kiovec sent them, nginx's
# own path when /dev/kiovec is absent and when a memory budget is too small for a file, and
# an error log with no [alert], [crit] or [emerg]. kselftest-style TAP; the last line is
# "# Totals: ...".
#
#   nginx.sh [MODULE_SO]     (root; default: .build/nginx/ngx_http_kiovec_module.so)
#
# A missing nginx, curl or module is a failure, not a skip: `make check` builds the module
# (scripts/build-nginx-module) and a run without it must not look green. Where the running
# kiovec kernel module lacks KIOVEC_FEAT_TX_HEADER or TX_RANGE, nginx must still serve every
# byte right through its own send chain: those checks run, and the ones that need the kiovec
# path are skipped with the reason.
#
# Speed: in the debug guest under TCG, starting a process costs about a second or more (curl
# maps some 30 libraries), and that, not the bytes, is where the time went. So requests go
# out in batches, one curl each, in order on one keep-alive connection, with kiovec_status
# snapshots between them in the same batch; kiovec_status is otherwise read with bash's own
# /dev/tcp; one perl writes the files and one md5sum per batch compares them; nginx starts
# once (SIGHUP moves it to the next setup); no $(...) in the checks; files settle (the module
# caches only files unchanged for 2 s) while other work goes on.
set -u

NGINX=${NGINX:-/usr/sbin/nginx}
here=${0%/*}
[ "$here" != "$0" ] || here=.
so=${1:-${KIOVEC_NGINX_MODULE:-}}
if [ -z "$so" ]; then
	# In the tree (tests/) or installed by make into .build/FLAVOUR/tests/bin/.
	for c in "$here/../.build/nginx" "$here/../../../nginx" "$here/../../nginx"; do
		[ -f "$c/ngx_http_kiovec_module.so" ] && so=$c/ngx_http_kiovec_module.so && break
	done
fi
[ -z "$so" ] || [ "${so:0:1}" = / ] || so=$PWD/$so   # nginx -p: load_module wants it absolute

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
step() { note "--- $* (at ${SECONDS}s)"; }
totals() {
	note "nginx.sh took ${SECONDS}s"
	echo "1..$n"
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	[ "$fail" = 0 ]
	exit
}
skip_all() { skip "nginx with kiovec" "$1"; totals; }
fail_all() { not_ok "nginx with kiovec" "$1"; totals; }

[ "$EUID" = 0 ] || skip_all "needs root (nginx master as root, tmpfs mount, RLIMIT_MEMLOCK)"
[ -x "$NGINX" ] || fail_all "no $NGINX (Debian package nginx: scripts/build-nginx-module installs it)"
command -v curl >/dev/null || fail_all "no curl (scripts/build-nginx-module installs it)"
command -v perl >/dev/null || fail_all "no perl"
[ -n "$so" ] && [ -f "$so" ] || fail_all "no ngx_http_kiovec_module.so: run scripts/build-nginx-module"
nobody=
while IFS=: read -r u _ uid _; do [ "$u" != nobody ] || nobody=$uid; done </etc/passwd
[ -n "$nobody" ] || skip_all "no user nobody"

# A sleep without a process: a read that times out on a pipe nobody writes.
exec {sleep_fd}<> <(:)
nap() { read -r -t "$1" -u "$sleep_fd" _ || :; }

P=/tmp/kiovec-nginx.$$
rm -rf "$P"
mkdir -m 755 "$P" && mkdir -p "$P/www" "$P/ext4" "$P/tmp" "$P/want" "$P/got" || fail_all "cannot make $P"
master= hidden=
stop_nginx() {
	[ -n "$master" ] || return 0
	kill -QUIT "$master" 2>/dev/null
	for _ in {1..300}; do kill -0 "$master" 2>/dev/null || break; nap 0.1; done
	if kill -0 "$master" 2>/dev/null; then kill -KILL "$master"; nap 0.2; fi
	master=
}
cleanup() {
	stop_nginx
	[ -z "$hidden" ] || mv /dev/kiovec.nginx-test /dev/kiovec
	umount "$P/ext4" "$P/www" 2>/dev/null
	rm -rf "$P"
}
trap cleanup EXIT

step "files"
mount -t tmpfs -o size=96m,mode=755 kiovec-nginx "$P/www" || fail_all "cannot mount a tmpfs"
ext4=0
# A small ext4 on a loop device: files with a real address space, read_folio and all.
if command -v mkfs.ext4 >/dev/null &&
	mkfs.ext4 -q -F -E nodiscard "$P/ext4.img" 8M >/dev/null 2>&1 &&
	mount -o loop "$P/ext4.img" "$P/ext4" 2>/dev/null; then
	ext4=1
fi

# The files: sizes around page boundaries, the sizes of the benchmark, and bigger ones for
# the slow and vanishing clients and the cache bounds (kiovec_cache_size 4m below); the
# versions that later replace some of them; the expected bytes of the ranges. One perl:
# `rand PATH SIZE` (random bytes), `slice SRC OFFSET LEN PATH`, `dir PATH` (mode 755).
sizes=(1 4095 4096 4097 65536 1048589)
ranges=("f65536 100-199 100 100" "f65536 -100 65436 100" "f65536 4000- 4000 61536"
	"f65536 0-0 0 1" "f4097 4090-4105 4090 7" "f1048589 1000000-1048588 1000000 48589"
	"f1048589 4096-8191 4096 4096")
{
	for s in "${sizes[@]}"; do
		echo "rand $P/www/f$s $s"
		[ $ext4 = 0 ] || echo "rand $P/ext4/f$s $s"
	done
	[ $ext4 = 0 ] || echo "dir $P/ext4"
	echo "rand $P/www/big $((3 * 1024 * 1024))"         # slow and vanishing clients
	echo "rand $P/www/huge $((5 * 1024 * 1024))"        # larger than the cache: nginx's own path
	for i in 1 2 3 4; do echo "rand $P/www/evict$i $((1536 * 1024))"; done
	echo "rand $P/www/rewrite 65536"
	echo "rand $P/want/v2 65536"                         # rewrite, in place
	echo "rand $P/want/v3 65536"                         # rewrite, truncated and written again
	echo "rand $P/www/trunc 1048576"
	echo "slice $P/www/trunc 0 1000 $P/want/t1000"
	echo "rand $P/want/t2 200000"                        # trunc, grown again
	echo "rand $P/www/replace 20000"
	echo "rand $P/www/replace.new 30000"
	echo "slice $P/www/replace.new 0 30000 $P/want/r2"
	for r in "${ranges[@]}"; do
		set -- $r
		echo "slice $P/www/$1 $3 $4 $P/want/$1:$2"
	done
} | perl -e '
	use strict;
	open(my $rnd, "<:raw", "/dev/urandom") or die "/dev/urandom: $!";
	my %data;
	sub put { my ($path, $bytes) = @_;
		open(my $f, ">:raw", $path) or die "$path: $!"; print $f $bytes; close($f) or die "$path: $!";
		chmod(0644, $path) or die "$path: $!"; }
	while (<STDIN>) {
		my @a = split;
		if ($a[0] eq "rand") {
			my $b = "";
			while (length($b) < $a[2]) { read($rnd, my $c, $a[2] - length($b)) or die "urandom: $!"; $b .= $c; }
			$data{$a[1]} = $b; put($a[1], $b);
		} elsif ($a[0] eq "slice") { put($a[4], substr($data{$a[1]}, $a[2], $a[3])); }
		elsif ($a[0] eq "dir") { chmod(0755, $a[1]) or die "$a[1]: $!"; }
	}' || fail_all "cannot write the test files"
: >"$P/www/empty"
printf '%s\n' {1..20000} >"$P/www/text"               # multipart ranges: text to look for
# The module caches only files that have not changed for 2 s: nginx starts in the meantime.
settle_from=${EPOCHREALTIME/./}
settle() { # wait until the files written at settle_from are 2.2 s old
	local left=$((settle_from + 2200000 - ${EPOCHREALTIME/./}))
	[ $left -le 0 ] || nap "$((left / 1000000)).${left: -6}"
}

# The md5 of every file as written (one md5sum): bodies are compared with these.
declare -A WANT
want_files=("$P"/www/* "$P"/want/*)
[ $ext4 = 0 ] || want_files+=("$P"/ext4/f*)
while read -r sum path; do WANT[$path]=$sum; done < <(md5sum "${want_files[@]}")

port=
for p in {18080..18180}; do
	if { exec 3<>"/dev/tcp/127.0.0.1/$p"; } 2>/dev/null; then exec 3<&-; else port=$p; break; fi
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
        location /r/ { alias $P/www/; kiovec on; limit_rate 512k; }
        location /s/ { alias $P/www/; }
        location = /kiovec_status { kiovec_status; }
    }
}
EOF
}

# kiovec_status snapshots (one worker: every request lands on it), SNAP[LABEL.name]: taken
# with bash's own /dev/tcp (snap LABEL) or inside a batch (qs LABEL). between A B fills
# S (the values at B) and D (B minus A, for numbers; "?" when either is missing).
declare -A SNAP S D
KEYS=(pid available reason features cache_size cache_max_containers responses transmits bytes
	eagain errors hits builds evictions stale fallback_chain fallback_fresh fallback_size
	fallback_build fallback_other cache_containers cache_bytes)
for k in "${KEYS[@]}"; do SNAP[@.$k]=1; done
parse_status() { # parse_status LABEL <BODY
	local k v
	while read -r -t 30 k v; do
		[ -n "$k" ] || continue
		[ -n "${SNAP[@.$k]:-}" ] || { SNAP[@.$k]=1; KEYS+=("$k"); }
		SNAP[$1.$k]=$v
	done
}
snap() { # snap LABEL
	local line
	exec 4<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf 'GET /kiovec_status HTTP/1.0\r\nHost: localhost\r\n\r\n' >&4
	while IFS= read -r -t 30 line <&4 && [ -n "${line%$'\r'}" ]; do :; done   # the header
	parse_status "$1" <&4
	exec 4<&-
	[ -n "${SNAP[$1.pid]:-}" ]
}
num() { [[ $1 =~ ^-?[0-9]+$ ]]; }
between() { # between A B
	local k a b
	S=() D=()
	for k in "${KEYS[@]}"; do
		a=${SNAP[$1.$k]:-} b=${SNAP[$2.$k]:-}
		S[$k]=${b:-?}
		if [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]]; then D[$k]=$((b - a)); else D[$k]=?; fi
	done
}

# Batches: q queues a GET, qs a kiovec_status snapshot; go sends the queue from one curl, in
# order, on one keep-alive connection, then fills CODE[NAME], PORT[NAME] (curl's local
# port: the connection), CT[NAME] (Content-Type) and GOT[NAME] (md5 of the body, kept in
# $P/got/NAME). Every transfer is bounded: a stuck response is a failed check, not a stuck suite.
Q=() QN=() QS=()
declare -A CODE PORT CT GOT
q() { # q NAME PATH [curl options]
	local name=$1 path=$2
	shift 2
	[ ${#Q[@]} = 0 ] || Q+=(--next)
	Q+=(-s -m 60 -o "$P/got/$name" -w "$name %{http_code} %{local_port} %{content_type}\n" "$@" "$base/$path")
	QN+=("$name")
	: >"$P/got/$name"
}
qs() { q "$1" kiovec_status; unset 'QN[${#QN[@]}-1]'; QS+=("$1"); }
go() { # go [curl options for the whole batch]
	local name code lport ct sum path files=()
	curl "$@" "${Q[@]}" >"$P/go.out" 2>/dev/null
	for name in "${QN[@]}"; do CODE[$name]=none PORT[$name]= CT[$name]= GOT[$name]=; files+=("$P/got/$name"); done
	while read -r name code lport ct; do CODE[$name]=$code PORT[$name]=$lport CT[$name]=$ct; done <"$P/go.out"
	for name in "${QS[@]}"; do parse_status "$name" <"$P/got/$name"; done
	[ ${#files[@]} = 0 ] || while read -r sum path; do GOT[${path##*/}]=$sum; done < <(md5sum "${files[@]}" 2>/dev/null)
	Q=() QN=() QS=()
}
same() { [ -n "${GOT[$1]:-}" ] && [ "${GOT[$1]}" = "${WANT[$2]:-?}" ]; }   # same NAME WANT-PATH
got() { [ "${CODE[$1]:-}" = "$2" ] && same "$1" "$3"; }                    # got NAME CODE WANT-PATH
# The error log's [alert], [crit] and [emerg] lines from line FIRST on, into bad; lines: its length.
log_scan() { # log_scan FIRST
	local line i=0
	bad=
	while IFS= read -r line; do
		i=$((i + 1))
		[ $i -ge "$1" ] || continue
		case $line in *'[alert]'*|*'[crit]'*|*'[emerg]'*) bad="$bad${line:0:300} | " ;; esac
	done <"$P/error.log"
	lines=$i
}

# reload: new workers from the current configuration and the master's current limits; the
# old worker finishes (its connections are closed) and exits first. Snapshot LABEL after.
reload() { # reload OLD-LABEL NEW-LABEL
	local old=${SNAP[$1.pid]:-}
	[ -n "$old" ] && kill -HUP "$master" || return 1
	for _ in {1..300}; do kill -0 "$old" 2>/dev/null || break; nap 0.1; done
	! kill -0 "$old" 2>/dev/null && snap "$2" && [ "${SNAP[$2.pid]}" != "$old" ]
}

step "nginx starts"
write_conf 4m
rm -f "$P/nginx.pid"
(
	ulimit -l 65536 2>/dev/null || ulimit -S -l 65536 2>/dev/null ||
		note "cannot set RLIMIT_MEMLOCK to 64 MiB: it stays $(ulimit -l) KiB"
	exec "$NGINX" -p "$P" -c "$P/nginx.conf" -e "$P/error.log"
) && snap start
master=
[ -s "$P/nginx.pid" ] && read -r master <"$P/nginx.pid"
if [ -z "$master" ] || [ -z "${SNAP[start.pid]:-}" ]; then
	not_ok "nginx starts with the kiovec module" "$(tail -n 5 "$P/error.log")"
	totals
fi
worker=${SNAP[start.pid]} wppid= wuid=
while read -r k v _; do
	case $k in PPid:) wppid=$v ;; Uid:) wuid=$v ;; esac
done <"/proc/$worker/status"
check "nginx loads the module, accepts kiovec, kiovec_cache_size and kiovec_status; master root, workers nobody" \
	"worker $worker: parent $wppid (master $master), uid $wuid" test "$wppid" = "$master" -a "$wuid" = "$nobody"
while read -r a b c d _; do [ "$a $b $c" != "Max locked memory" ] || note "worker $worker: RLIMIT_MEMLOCK $d bytes"; done <"/proc/$worker/limits"

kv=0 reason=
if [ "${SNAP[start.available]:-}" = 1 ]; then
	kv=1
	ok "kiovec is available in the worker (features ${SNAP[start.features]})"
else
	reason=${SNAP[start.reason]:-no kiovec_status}
	skip "kiovec is available in the worker" "$reason: only nginx's own path is tested"
fi
kvcheck() { # kvcheck NAME DETAIL COMMAND...: a check of the kiovec path, skipped without it
	if [ $kv = 1 ]; then check "$@"; else skip "$1" "kiovec not available: ${reason:-?}"; fi
}

# --- One batch: full downloads (tmpfs, again from the cache, ext4, a location without
# kiovec), HEAD, ranges, keep-alive, and the partial sends of one slow reader,
# sendfile_max_chunk and limit_rate, with a snapshot of the counters between each.
step "one batch: full downloads, HEAD, Range, keep-alive, a slow reader, sendfile_max_chunk, limit_rate"
settle
downloads() { local s; for s in "${sizes[@]}"; do q "$2f$s" "$1/f$s"; done; }
not_same() { # not_same TAG DIR: the downloads that are not exact, into bad
	local s
	bad=
	for s in "${sizes[@]}"; do got "$1f$s" 200 "$2/f$s" || bad="$bad f$s(${CODE[$1f$s]})"; done
}
qs a0; downloads k a; q empty k/empty
qs a1; downloads k b
qs a2; [ $ext4 = 0 ] || downloads e e
qs a3; downloads s s
qs a4; q head k/f65536 -I -D "$P/head.hdr"; q afterhead k/f4097
qs a5
for r in "${ranges[@]}"; do
	set -- $r
	q "$1:$2" "k/$1" -H "Range: bytes=$2"
done
q multi k/text -H "Range: bytes=0-9,100-119"
qs a6
ka=()
for i in {1..30}; do ka+=("f${sizes[$((i % ${#sizes[@]}))]}"); q "ka$i" "k/${ka[-1]}"; done
qs a7; q slow k/big --limit-rate 2m
qs a8; q chunk c/f1048589
qs a9; q rate r/f1048589
qs a10
go

between a0 a1
not_same a "$P/www"
got empty 200 "$P/www/empty" || bad="$bad empty(${CODE[empty]})"
check "tmpfs: full downloads byte for byte (${#sizes[@]} sizes + empty)" "$bad" test -z "$bad"
kvcheck "tmpfs: kiovec sent every non-empty body (responses +${D[responses]}, builds +${D[builds]})" \
	"responses +${D[responses]} builds +${D[builds]} fresh +${D[fallback_fresh]}" \
	test "${D[responses]}" = ${#sizes[@]} -a "${D[builds]}" = ${#sizes[@]}
between a1 a2
not_same b "$P/www"
kvcheck "tmpfs: the same files again come from the cache (hits +${D[hits]}, builds +0)" \
	"hits +${D[hits]} builds +${D[builds]} responses +${D[responses]} bad:$bad" \
	test "${D[hits]}" -ge ${#sizes[@]} -a "${D[builds]}" = 0 -a "${D[responses]}" = ${#sizes[@]} -a -z "$bad"
if [ $ext4 = 1 ]; then
	between a2 a3
	not_same e "$P/ext4"
	check "ext4: full downloads byte for byte" "$bad" test -z "$bad"
	kvcheck "ext4: kiovec sent every body (responses +${D[responses]})" "" \
		test "${D[responses]}" = ${#sizes[@]}
else
	skip "ext4: full downloads byte for byte" "no loop device or mkfs.ext4"
fi
between a3 a4
not_same s "$P/www"
check "a location without kiovec: byte for byte, and kiovec's counters do not move" \
	"$bad; transmits +${D[transmits]} fallbacks +${D[fallback_chain]}" \
	test -z "$bad" -a "${D[transmits]}" = 0 -a "${D[fallback_chain]}" = 0

# HEAD: no body, and nothing stray on the connection: a GET follows on the same one.
between a4 a5
cl=
while IFS= read -r line; do
	line=${line%$'\r'}
	[[ ${line,,} != content-length:* ]] || cl=${line#*: }
done <"$P/head.hdr"
head_ok() {
	got afterhead 200 "$P/www/f4097" && [ "$cl/${CODE[head]}" = 65536/200 ] &&
		[ -n "${PORT[head]}" ] && [ "${PORT[head]}" = "${PORT[afterhead]}" ]
}
check "HEAD: Content-Length 65536, no body; the next GET on the connection is exact" \
	"length '$cl', HEAD ${CODE[head]} from port ${PORT[head]}, GET ${CODE[afterhead]} from port ${PORT[afterhead]}" head_ok
kvcheck "HEAD goes to nginx's path (no file buffer), the GET through kiovec" \
	"fallback_chain +${D[fallback_chain]} responses +${D[responses]}" \
	test "${D[fallback_chain]}" -ge 1 -a "${D[responses]}" = 1

between a5 a6
bad=
for r in "${ranges[@]}"; do
	set -- $r
	got "$1:$2" 206 "$P/want/$1:$2" || bad="$bad $1:$2(${CODE[$1:$2]})"
done
check "Range: ${#ranges[@]} single ranges byte for byte (206)" "$bad" test -z "$bad"
kvcheck "Range: served from the cached whole-file containers (KIOVEC_TX_RANGE, builds +0)" \
	"responses +${D[responses]} builds +${D[builds]}" \
	test "${D[responses]}" = ${#ranges[@]} -a "${D[builds]}" = 0
IFS= read -r -d '' text <"$P/www/text"
IFS= read -r -d '' body <"$P/got/multi"
multipart_ok() {
	[ "${CODE[multi]}" = 206 ] && [[ ${CT[multi]} == multipart/byteranges* ]] &&
		[[ $body == *"${text:0:10}"* ]] && [[ $body == *"${text:100:20}"* ]]
}
check "Range: a multipart response (two ranges) has both parts" "${CODE[multi]} ${CT[multi]}" multipart_ok

# Keep-alive: 30 requests, one connection (curl's local port the same for all).
between a6 a7
bad= ports=
for i in {1..30}; do
	got "ka$i" 200 "$P/www/${ka[$((i - 1))]}" || bad="$bad $i"
	[[ " $ports " == *" ${PORT[ka$i]} "* ]] || ports="$ports ${PORT[ka$i]}"
done
ka_ok() { [ -z "$bad" ] && [ -n "$ports" ] && [ "$ports" = " ${PORT[ka1]}" ]; }
check "keep-alive: 30 responses on one connection, byte for byte" "local ports:$ports, bad:$bad" ka_ok
kvcheck "keep-alive: all 30 through kiovec" "responses +${D[responses]}" test "${D[responses]}" = 30

# Partial sends: a slow reader, sendfile_max_chunk, limit_rate.
between a7 a8
check "a slow reader (curl --limit-rate 2m) gets all 3 MiB byte for byte" "${CODE[slow]}" \
	got slow 200 "$P/www/big"
kvcheck "a slow reader: kiovec resumed after EAGAIN (eagain +${D[eagain]}, transmits +${D[transmits]})" \
	"responses +${D[responses]}" test "${D[eagain]}" -ge 1 -a "${D[responses]}" = 1
between a8 a9
check "sendfile_max_chunk 16k: 1 MiB byte for byte" "${CODE[chunk]}" got chunk 200 "$P/www/f1048589"
sent_calls=?
num "${D[transmits]}" && num "${D[eagain]}" && sent_calls=$((D[transmits] - D[eagain]))
kvcheck "sendfile_max_chunk 16k: at least 65 transmits that sent bytes (got $sent_calls)" \
	"bytes +${D[bytes]} responses +${D[responses]}" \
	test "$sent_calls" -ge 65 -a "${D[responses]}" = 1
between a9 a10
check "limit_rate 512k: 1 MiB byte for byte" "${CODE[rate]}" got rate 200 "$P/www/f1048589"
kvcheck "limit_rate 512k: the body went through kiovec" "responses +${D[responses]}" \
	test "${D[responses]}" = 1

# --- Four slow readers at once, on four connections.
step "4 slow readers at once"
for i in 1 2 3 4; do q "par$i" k/big --limit-rate 4m; done
go -Z --parallel-immediate --parallel-max 4
snap b1
between a10 b1
bad= ports= nports=0
for i in 1 2 3 4; do
	got "par$i" 200 "$P/www/big" || bad="$bad $i"
	[ -z "${PORT[par$i]}" ] || [[ " $ports " == *" ${PORT[par$i]} "* ]] ||
		{ ports="$ports ${PORT[par$i]}"; nports=$((nports + 1)); }
done
check "4 slow readers at once (4 connections): each gets the 3 MiB byte for byte" \
	"local ports:$ports bad:$bad" test -z "$bad" -a "$nports" = 4
kvcheck "4 slow readers at once: 4 responses from at most one new container" \
	"responses +${D[responses]} builds +${D[builds]}" \
	test "${D[responses]}" = 4 -a "${D[builds]}" -le 1

# --- A client that disconnects in the middle of the body.
# It reads 64 KiB of the 3 MiB and closes with the rest unread (an RST): nginx is waiting
# for room in the socket (a small sndbuf, a receive window that never opens further).
step "a client vanishing mid-body"
vanish() {
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf 'GET /k/big HTTP/1.1\r\nHost: localhost\r\n\r\n' >&3
	timeout 30 head -c 65536 <&3 >"$P/vanish"
	exec 3<&-
}
vanish
nap 0.5
qs b2
q after k/f65536
go
between b1 b2
vanish_ok() { got after 200 "$P/www/f65536" && [ "${S[pid]}" = "$worker" ]; }
check "a client vanishing mid-body: the worker lives on and the next response is exact" \
	"pid ${S[pid]} vs $worker, ${CODE[after]}" vanish_ok
# nginx notices the reset on the read side (ngx_http_test_reading) or in the next transmit.
kvcheck "a client vanishing mid-body: the kiovec response was waiting (EAGAIN) and never completed" \
	"eagain +${D[eagain]} responses +${D[responses]} errors +${D[errors]}" \
	test "${D[eagain]}" -ge 1 -a "${D[responses]}" = 0 -a "${D[errors]}" -le 1

# --- Files that change between requests: the next response is the new file, never a mix.
# Three files at once: `rewrite` (in place, then truncated and written again), `trunc`
# (truncated to 1000 bytes, to 0, then grown) and `replace` (a new inode renamed over it).
step "files rewritten and truncated between requests"
qs c0; q rw1 k/rewrite; q tr1 k/trunc; q rp1 k/replace
go
first_ok() { got rw1 200 "$P/www/rewrite" && got tr1 200 "$P/www/trunc" && got rp1 200 "$P/www/replace"; }
check "files before they change: exact (rewrite, trunc, replace)" \
	"${CODE[rw1]} ${CODE[tr1]} ${CODE[rp1]}" first_ok
dd if="$P/want/v2" of="$P/www/rewrite" conv=notrunc status=none    # in place, same size
truncate -s 1000 "$P/www/trunc"
mv "$P/www/replace.new" "$P/www/replace"                             # a new inode under the name
q rw2 k/rewrite; q tr2 k/trunc; q rp2 k/replace
go
check "rewritten in place: the next response is the new content" "${CODE[rw2]}" got rw2 200 "$P/want/v2"
check "truncated to 1000 bytes: the first 1000 bytes, nothing else" "${CODE[tr2]}" \
	got tr2 200 "$P/want/t1000"
check "replaced by rename: the new file" "${CODE[rp2]}" got rp2 200 "$P/want/r2"
cp "$P/want/v3" "$P/www/rewrite"                                     # truncated, then written again
: >"$P/www/trunc"
q rw3 k/rewrite; q tr3 k/trunc; qs c1
go
check "truncated and rewritten to the same size: the new content" "${CODE[rw3]}" got rw3 200 "$P/want/v3"
check "truncated to 0: an empty 200" "${CODE[tr3]}" got tr3 200 "$P/www/empty"
cat "$P/want/t2" >>"$P/www/trunc"
settle_from=${EPOCHREALTIME/./}   # these two settle while the cache's bounds are tested

# --- The cache's bound: kiovec_cache_size 4m.
step "the cache's bounds"
evs=(1 2 3 4 1 2)
for j in "${!evs[@]}"; do q "ev$j" "k/evict${evs[$j]}"; done
qs d1; q huge k/huge; qs d2
go
between c1 d1
bad=
for j in "${!evs[@]}"; do got "ev$j" 200 "$P/www/evict${evs[$j]}" || bad="$bad ${evs[$j]}"; done
check "4 files of 1.5 MiB through a 4 MiB cache, byte for byte" "$bad" test -z "$bad"
kvcheck "the cache stays under kiovec_cache_size and evicts (evictions +${D[evictions]}, ${S[cache_bytes]} bytes)" \
	"evictions +${D[evictions]} bytes ${S[cache_bytes]} size ${S[cache_size]}" \
	test "${D[evictions]}" -ge 2 -a "${S[cache_bytes]}" -le "${S[cache_size]}" -a "${S[cache_size]}" = 4194304
between d1 d2
check "a 5 MiB file (larger than the cache) byte for byte" "${CODE[huge]}" got huge 200 "$P/www/huge"
kvcheck "a file larger than the cache goes to nginx's own path, the whole response" \
	"fallback_size +${D[fallback_size]} responses +${D[responses]} builds +${D[builds]}" \
	test "${D[fallback_size]}" = 1 -a "${D[responses]}" = 0 -a "${D[builds]}" = 0

# The changed files, once settled: cached again, from their new contents.
settle
q rw4 k/rewrite; q tr4 k/trunc; qs c2
go
between c0 c1
stale=${D[stale]} builds=${D[builds]} fresh=${D[fallback_fresh]}
between d2 c2
num "$stale" && num "${D[stale]}" && stale=$((stale + D[stale])) || stale=?
num "$builds" && num "${D[builds]}" && builds=$((builds + D[builds])) || builds=?
num "$fresh" && num "${D[fallback_fresh]}" && fresh=$((fresh + D[fallback_fresh])) || fresh=?
check "the rewritten file, once settled: the new content again" "${CODE[rw4]}" got rw4 200 "$P/want/v3"
check "truncated to 0 and grown again with new bytes: exactly the new bytes" "${CODE[tr4]}" \
	got tr4 200 "$P/want/t2"
# Builds: the three files at first, then rewrite and trunc once settled.
kvcheck "the changed files: old containers dropped (stale +$stale), new ones built (builds +$builds)" \
	"stale +$stale builds +$builds fresh +$fresh" \
	test "$stale" -ge 2 -a "$builds" -ge 5

# --- No /dev/kiovec: nginx's own path serves everything (a reload: new worker, same files).
step "no /dev/kiovec"
log_scan 1
check "error log with kiovec: no [alert], [crit] or [emerg]" "$bad" test -z "$bad"
seen=$lines
[ ! -e /dev/kiovec ] || { mv /dev/kiovec /dev/kiovec.nginx-test && hidden=1; }
check "reload (SIGHUP) with no /dev/kiovec: a new worker answers" "" reload c2 e0
exitline=
while IFS= read -r line; do
	[[ $line != *'kiovec: worker exits: responses '* ]] || exitline=${line##*kiovec: worker exits: }
done <"$P/error.log"
exitline=${exitline%%,*}
kvcheck "the worker logs its counters at exit ($exitline)" "status was: responses ${SNAP[c2.responses]}" \
	test "$exitline" = "responses ${SNAP[c2.responses]}"
q n1 k/f4096; q n2 k/f1048589; q n3 k/f65536 -H "Range: bytes=4000-"; qs e1
go
between e0 e1
check "no /dev/kiovec: the module says why (available ${S[available]}, reason: ${S[reason]})" "" \
	test "${S[available]}" = 0 -a "${S[reason]#*No such file}" != "${S[reason]}"
nodev_ok() {
	got n1 200 "$P/www/f4096" && got n2 200 "$P/www/f1048589" && got n3 206 "$P/want/f65536:4000-" &&
		[ "${D[transmits]}" = 0 ]
}
check "no /dev/kiovec: full and Range downloads byte for byte through nginx's path, no transmit" \
	"${CODE[n1]} ${CODE[n2]} ${CODE[n3]} transmits +${D[transmits]}" nodev_ok
[ -z "$hidden" ] || { mv /dev/kiovec.nginx-test /dev/kiovec && hidden=; }

# --- A memory budget too small for a file: nginx's own path serves it. The old worker's
# containers went with the first reload; the new one may lock 256 KiB (RLIMIT_MEMLOCK,
# inherited from the master).
step "RLIMIT_MEMLOCK 256 KiB"
write_conf 16m
if prlimit --pid "$master" --memlock=262144:262144 && reload e1 m0; then
	q m1 k/f1048589; q m2 k/f4096; qs m9
	go
	between m0 m9
	mem_ok() { got m1 200 "$P/www/f1048589" && got m2 200 "$P/www/f4096"; }
	check "RLIMIT_MEMLOCK 256 KiB: 1 MiB and 4 KiB files byte for byte" "${CODE[m1]} ${CODE[m2]}" mem_ok
	kvcheck "RLIMIT_MEMLOCK 256 KiB: the 1 MiB container is refused (ENOMEM), the 4 KiB one is not" \
		"fallback_build +${D[fallback_build]} responses +${D[responses]}" \
		test "${D[fallback_build]}" = 1 -a "${D[responses]}" = 1
else
	not_ok "nginx reloads with RLIMIT_MEMLOCK 256 KiB" "$(tail -n 5 "$P/error.log")"
fi
stop_nginx
log_scan $((seen + 1))
check "error log without /dev/kiovec and with the small budget: no [alert], [crit] or [emerg]" \
	"$bad" test -z "$bad"

totals
