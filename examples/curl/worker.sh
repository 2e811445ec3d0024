#!/usr/bin/env bash
# A Finish Line worker in bash, over the lease API (CONTRACT.md "Leases"). It needs curl and jq,
# and otherwise only tools every Unix has (awk, od, gzip, base64, printf, sleep).
#
# It leases cells, paints them (a colour for a colours cell; for a picture cell, the Mandelbrot
# tile the contract's geometry defines, as an 8-bit RGB PNG) and completes the lease:
#
#     WORKER_TOKEN=secret FINISH_LINE_URL=http://127.0.0.1:3000 bash examples/curl/worker.sh
#
# Settings (environment): FINISH_LINE_URL (default http://127.0.0.1:3000), WORKER_TOKEN
# (required: the server's), WORKER_NAME (default curl-<pid>; the dashboard shows lease-<name>),
# TAG (default "default"), MAX (cells per lease, default 50), LEASE_SECONDS (default 60),
# VERBOSE (1: a line for every cell painted; default 0).
#
# SIGTERM or SIGINT stops it after the cell in hand: the cells painted so far are completed, the
# rest of the lease is abandoned and comes back to the queue when the lease expires. Killed
# outright, it loses nothing either: its whole lease comes back then.

set -euo pipefail
# Byte-exact text tools and "." as the decimal point, whatever the user's locale.
export LC_ALL=C

FINISH_LINE_URL=${FINISH_LINE_URL:-http://127.0.0.1:3000}
FINISH_LINE_URL=${FINISH_LINE_URL%/}
WORKER_TOKEN=${WORKER_TOKEN:-}
WORKER_NAME=${WORKER_NAME:-curl-$$}
TAG=${TAG:-default}
MAX=${MAX:-50}
LEASE_SECONDS=${LEASE_SECONDS:-60}
VERBOSE=${VERBOSE:-0}

stopping=0
WORK=
HTTP_STATUS=000
lease_taken_at=0

# ---- Small helpers ------------------------------------------------------------------------------

log() { printf '%s %s: %s\n' "$(date -u +%H:%M:%SZ)" "$WORKER_NAME" "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# Sleeps, but wakes at once when a stop is asked for: bash runs a trap only between commands, and
# `wait` is the one command a signal interrupts.
pause() {
	local pid
	sleep "$1" &
	pid=$!
	wait "$pid" || kill "$pid" 2>/dev/null || true
}

check_settings() {
	local tool
	for tool in curl jq awk od gzip base64; do
		command -v "$tool" >/dev/null || die "needs $tool on PATH; install it and start again."
	done
	[[ -n $WORKER_TOKEN ]] || die "set WORKER_TOKEN to the token the server was started with (the lease API needs it)."
	[[ $MAX =~ ^[1-9][0-9]{0,3}$ ]] && ((MAX <= 1000)) || die "MAX must be an integer from 1 to 1000 (got \"$MAX\")."
	[[ $LEASE_SECONDS =~ ^[1-9][0-9]{0,2}$ ]] && ((LEASE_SECONDS <= 600)) ||
		die "LEASE_SECONDS must be an integer from 1 to 600 (got \"$LEASE_SECONDS\")."
}

# ---- The API ------------------------------------------------------------------------------------

# POSTs the JSON file $2 to the path $1 and sets HTTP_STATUS; the answer's body is left in
# $WORK/answer.json. What is worth waiting out is waited out here: 429 (for as long as the server's
# Retry-After says) and an unreachable or failing server (backing off up to 30 s). Once a stop is
# asked for, a server that fails is given up on at once (status 000), but a 429 is still waited
# out: it is short, and the request may be the completion that saves the cells painted so far.
# 401, and 404 from a server without the lease API, end the worker: no retry can fix its settings.
# (So it is never called in $(...), where `die` would end only a subshell.)
post() {
	local path=$1 body=$2 delay=1 wait_s
	while :; do
		# The token goes in a header file, not on curl's command line, where `ps` would show it.
		HTTP_STATUS=$(curl -sS --max-time 120 -o "$WORK/answer.json" -D "$WORK/headers" -w '%{http_code}' \
			-H "@$WORK/auth-header" -H 'Content-Type: application/json' \
			--data-binary "@$body" "$FINISH_LINE_URL$path") || HTTP_STATUS=000
		case $HTTP_STATUS in
		401) die "$FINISH_LINE_URL refused the worker token (401): set WORKER_TOKEN to the server's WORKER_TOKEN." ;;
		404)
			[[ $path == /api/leases ]] &&
				die "$FINISH_LINE_URL has no lease API (404): start the server with WORKER_TOKEN set, or check FINISH_LINE_URL."
			return 0
			;;
		429)
			wait_s=$(retry_after)
			log "rate limited (429); trying again in ${wait_s} s"
			pause "$wait_s"
			;;
		000 | 5??)
			if ((stopping)); then
				HTTP_STATUS=000
				return 0
			fi
			log "$FINISH_LINE_URL$path failed ($(error_message)); trying again in ${delay} s"
			pause "$delay"
			delay=$((delay < 16 ? delay * 2 : 30))
			;;
		*) return 0 ;;
		esac
	done
}

# The seconds a 429's Retry-After asks for (a whole number; 1 if it is missing or a date).
retry_after() {
	awk -F: 'tolower($1) == "retry-after" { v = $2; gsub(/[^0-9]/, "", v); if (v != "") s = v + 0 }
		END { print (s >= 1 && s <= 300) ? s : 1 }' "$WORK/headers"
}

# The server's own sentence for the last request that failed, or what little is known without one.
error_message() {
	if [[ $HTTP_STATUS == 000 ]]; then
		printf 'no answer'
	else
		jq -r --arg s "$HTTP_STATUS" '"\($s): " + (.error.message // "no message")' "$WORK/answer.json" 2>/dev/null ||
			printf '%s' "$HTTP_STATUS"
	fi
}

# ---- Painting -----------------------------------------------------------------------------------

# A colours cell may have any colour; this one is derived from its place, so a picture of it
# shows which worker painted what, and a test can check it.
cell_color() {
	local row=$1 col=$2
	printf '#%02X%02X%02X' $(((row * 53 + 40) % 256)) $(((col * 71 + 90) % 256)) $((((row + col) * 29 + 140) % 256))
}

# The raw image data of one picture tile, as PNG wants it before compression: per pixel row, the
# filter byte 0 and then R G B for each pixel, printed as decimal numbers, one pixel row a line.
#
# The arithmetic is the server's (lib/pictures/mandelbrot.ts) operation for operation: awk's
# numbers are IEEE doubles, so the same operations in the same order give the same doubles, and so
# the same inside/outside decision for every pixel, even on the set's boundary. The colours of the
# outside pixels are the server's palette too, rebuilt here the same way, so a tile painted here is
# the very tile a built-in worker paints (any colour but black would satisfy the contract).
render_tile() {
	awk -v x="$1" -v y="$2" -v width="$3" -v maxit="$4" -v T="$5" -v rows="$6" -v cols="$7" \
		-v row="$8" -v col="$9" '
	BEGIN {
		build_palette()
		LN2 = log(2)
		# The contract: pixel (px, py) samples c = (x + (px + 0.5 - W/2)s) + i(y - (py + 0.5 - H/2)s).
		W = cols * T; H = rows * T; s = width / W; halfW = W / 2; halfH = H / 2
		for (j = 0; j < T; j++) {
			im = y - (row * T + j + 0.5 - halfH) * s
			line = "0"
			for (i = 0; i < T; i++) line = line " " pixel(x + (col * T + i + 0.5 - halfW) * s, im)
			print line
		}
	}

	# escapeTime: z <- z^2 + c from 0 until |z|^2 > 4; the squares are kept for the next step,
	# exactly as the server keeps them (the same doubles as computing them again).
	function pixel(re, im,    zr, zi, zr2, zi2, n, k, mu, t, idx) {
		zr = 0; zi = 0; zr2 = 0; zi2 = 0
		for (n = 1; n <= maxit; n++) {
			zi = 2 * zr * zi + im
			zr = zr2 - zi2 + re
			zr2 = zr * zr
			zi2 = zi * zi
			if (zr2 + zi2 > 4) break
		}
		if (n > maxit) return "0 0 0"
		# Two more steps refine the smooth count; the inside/outside decision is already made.
		for (k = 0; k < 2; k++) {
			zi = 2 * zr * zi + im
			zr = zr2 - zi2 + re
			zr2 = zr * zr
			zi2 = zi * zi
		}
		mu = n + 3 - log(0.5 * log(zr2 + zi2)) / LN2
		t = sqrt(mu > 0 ? mu : 0) * 0.12 + 0.9
		idx = int((t - int(t)) * 2048)
		if (idx > 2047) idx = 2047
		return PR[idx] " " PG[idx] " " PB[idx]
	}

	# The server palette: a cyclic gradient through five stops, sampled at 2048 points with
	# monotone cubic (Fritsch-Carlson) interpolation per channel; no outside colour is black.
	function build_palette(    n, ch, k, h0, h1, d0, d1, seg, i, t, h, u, u2, u3, v) {
		n = split("0 0.16 0.42 0.6425 0.8575", xs, " ")
		split("0 32 237 255 0", stopR, " "); split("7 107 255 170 2", stopG, " "); split("100 203 255 0 0", stopB, " ")
		for (k = 0; k < n; k++) X[k] = xs[k + 1] + 0
		X[n] = 1
		for (ch = 0; ch < 3; ch++) {
			for (k = 0; k < n; k++) Y[k] = (ch == 0 ? stopR[k + 1] : ch == 1 ? stopG[k + 1] : stopB[k + 1]) + 0
			Y[n] = Y[0]
			for (k = 0; k < n; k++) {
				Wd[k] = X[k + 1] - X[k]
				Sl[k] = (Y[k + 1] - Y[k]) / Wd[k]
			}
			for (k = 0; k <= n; k++) {
				h0 = Wd[(k - 1 + n) % n]; h1 = Wd[k % n]
				d0 = Sl[(k - 1 + n) % n]; d1 = Sl[k % n]
				Tg[k] = d0 * d1 <= 0 ? 0 : (3 * (h0 + h1)) / ((2 * h1 + h0) / d0 + (h1 + 2 * h0) / d1)
			}
			seg = 0
			for (i = 0; i < 2048; i++) {
				t = i / 2048
				while (t >= X[seg + 1]) seg++
				h = X[seg + 1] - X[seg]
				u = (t - X[seg]) / h
				u2 = u * u
				u3 = u2 * u
				v = (2 * u3 - 3 * u2 + 1) * Y[seg] + (u3 - 2 * u2 + u) * h * Tg[seg] \
					+ (-2 * u3 + 3 * u2) * Y[seg + 1] + (u3 - u2) * h * Tg[seg + 1]
				v = js_round(v)
				v = v < 0 ? 0 : v > 255 ? 255 : v
				if (ch == 0) PR[i] = v; else if (ch == 1) PG[i] = v; else PB[i] = v
			}
		}
		for (i = 0; i < 2048; i++) if (PR[i] == 0 && PG[i] == 0 && PB[i] == 0) PB[i] = 1
	}

	# JavaScript Math.round: the nearest integer, halves upwards (only v >= 0 matters here).
	function js_round(v,    f) {
		if (v < 0) return 0
		f = int(v)
		return v - f >= 0.5 ? f + 1 : f
	}'
}

# Decimal byte values (any whitespace between them) on stdin to those bytes on stdout. POSIX awk
# cannot be trusted to print a NUL byte, but printf's octal escapes can.
to_binary() {
	local escapes
	escapes=$(awk '{ for (i = 1; i <= NF; i++) printf "\\%03o", $i }')
	# shellcheck disable=SC2059 # the format is the data: octal escapes only, never a "%"
	printf "$escapes"
}

# Bytes on stdin to their decimal values, whitespace-separated.
to_decimal() { od -An -v -tu1; }

# The CRC-32 of the bytes given in decimal in the file $1, big-endian, as four decimals. No
# arithmetic needed: gzip's trailer holds the CRC-32 of its input (little-endian), then its length.
crc32_of() {
	to_binary <"$1" | gzip -c -n | to_decimal |
		awk '{ for (i = 1; i <= NF; i++) b[n++] = $i } END { print b[n-5], b[n-6], b[n-7], b[n-8] }'
}

# A PNG chunk: the chunk type $1 and the data in the decimal file $2 (may be empty) to
# length (4 bytes, big-endian), type, data and the CRC-32 of type and data, in decimal.
png_chunk() {
	local type=$1 data=$2 typed=$WORK/chunk.dec
	{ printf '%s' "$type" | to_decimal && cat "$data"; } >"$typed" &&
		awk '{ n += NF } END { print int(n / 16777216) % 256, int(n / 65536) % 256, int(n / 256) % 256, n % 256 }' "$data" &&
		cat "$typed" &&
		crc32_of "$typed"
}

# The zlib stream (RFC 1950) of the bytes in the decimal file $1, in decimal: a header, the raw
# deflate data gzip makes (RFC 1952: its header and 8-byte trailer cut off), and the Adler-32 of
# the uncompressed bytes.
zlib_stream() {
	local raw=$1
	to_binary <"$raw" | gzip -c -n | to_decimal >"$WORK/gz.dec" &&
		awk '
	NR == FNR { for (i = 1; i <= NF; i++) { a = (a + $i) % 65521; b = (b + a) % 65521 }; next }
	{ for (i = 1; i <= NF; i++) gz[n++] = $i }
	END {
		# 0x78 0x9C: deflate with a 32 KB window (as gzip uses), default level, no dictionary.
		print 120, 156
		# The gzip header is 10 bytes, then whatever its flags add (gzip -n adds none, others may).
		flags = gz[3]; p = 10
		if (int(flags / 4) % 2) p += 2 + gz[10] + 256 * gz[11]
		if (int(flags / 8) % 2) { while (gz[p] != 0) p++; p++ }
		if (int(flags / 16) % 2) { while (gz[p] != 0) p++; p++ }
		if (int(flags / 2) % 2) p += 2
		for (; p < n - 8; p++) print gz[p]
		print int(b / 256), b % 256, int(a / 256), a % 256
	}' a=1 "$raw" "$WORK/gz.dec"
}

# A tileSize x tileSize 8-bit RGB PNG (colour type 2) of the tile in the decimal file $1, in base64.
# Each step is chained with &&: a failure anywhere fails the whole, `set -e` or not.
encode_png() {
	local raw=$1 size=$2 head=$WORK/head-$2.dec tail=$WORK/tail.dec
	# The signature and IHDR depend on the size alone, IEND on nothing: made once, then reused.
	if [[ ! -s $head ]]; then
		# IHDR: width, height, bit depth 8, colour type 2 (RGB), deflate, filter method 0, no interlace.
		awk -v s="$size" 'BEGIN { w = int(s / 16777216) % 256 " " int(s / 65536) % 256 " " int(s / 256) % 256 " " s % 256
			print w, w, 8, 2, 0, 0, 0 }' >"$WORK/ihdr.dec" &&
			{ printf '137 80 78 71 13 10 26 10\n' && png_chunk IHDR "$WORK/ihdr.dec"; } >"$head.part" &&
			mv "$head.part" "$head" || return 1
	fi
	if [[ ! -s $tail ]]; then
		: >"$WORK/iend.dec" && png_chunk IEND "$WORK/iend.dec" >"$tail.part" && mv "$tail.part" "$tail" || return 1
	fi
	zlib_stream "$raw" >"$WORK/idat.dec" &&
		png_chunk IDAT "$WORK/idat.dec" >"$WORK/idat-chunk.dec" &&
		cat "$head" "$WORK/idat-chunk.dec" "$tail" | to_binary | base64 | tr -d '\n'
}

# Paints one leased cell and prints its result for the completion, one JSON object on a line.
# A cell that cannot be painted gets an error result (a failed attempt: retried, then failed).
# Written without relying on `set -e`, which bash ignores in functions called from a condition.
paint_cell() {
	local batch=$1 row=$2 col=$3 kind=$4 x=$5 y=$6 width=$7 maxit=$8 size=$9 rows=${10} cols=${11}
	local place=(--arg batchId "$batch" --argjson row "$row" --argjson col "$col")
	case $kind in
	colors)
		jq -nc "${place[@]}" --arg color "$(cell_color "$row" "$col")" '{$batchId, $row, $col, $color}'
		;;
	mandelbrot)
		if render_tile "$x" "$y" "$width" "$maxit" "$size" "$rows" "$cols" "$row" "$col" >"$WORK/raw.dec" &&
			encode_png "$WORK/raw.dec" "$size" >"$WORK/tile.b64"; then
			jq -nc "${place[@]}" --rawfile tile "$WORK/tile.b64" '{$batchId, $row, $col, $tile}'
		else
			((stopping)) && return 1 # cut short by the stop (Ctrl-C reaches awk too): not the cell's fault
			jq -nc "${place[@]}" '{$batchId, $row, $col, error: "the bash worker could not render this tile"}'
		fi
		;;
	*)
		jq -nc "${place[@]}" --arg kind "$kind" '{$batchId, $row, $col, error: "the bash worker cannot paint \($kind) cells"}'
		;;
	esac
}

# ---- The loop -----------------------------------------------------------------------------------

# Leases cells into $WORK/lease.json; fails (after logging why) if no lease was taken.
take_lease() {
	jq -n --arg tag "$TAG" --argjson max "$MAX" --argjson s "$LEASE_SECONDS" --arg worker "$WORKER_NAME" \
		'{$tag, $max, leaseSeconds: $s, $worker}' >"$WORK/lease-request.json" || return 1
	post /api/leases "$WORK/lease-request.json"
	case $HTTP_STATUS in
	200) cp "$WORK/answer.json" "$WORK/lease.json" ;;
	000) return 1 ;;
	# Our settings' fault (TAG, MAX, LEASE_SECONDS or WORKER_NAME): no use going on.
	400) die "the server refused the lease request ($(error_message))" ;;
	*)
		log "leasing failed ($(error_message)); trying again"
		pause 1
		return 1
		;;
	esac
}

# Keeps the lease open while its cells take long to paint: past half its time, it is extended.
# Fails if the lease has expired meanwhile (its cells went back: painting more of it is wasted).
keep_lease() {
	local lease_id=$1
	((SECONDS - lease_taken_at < (LEASE_SECONDS + 1) / 2)) && return 0
	jq -n --argjson s "$LEASE_SECONDS" '{leaseSeconds: $s}' >"$WORK/extend.json" || return 0
	post "/api/leases/$lease_id/extend" "$WORK/extend.json"
	case $HTTP_STATUS in
	200) lease_taken_at=$SECONDS ;;
	409)
		log "lease $lease_id expired while painting; its cells went back (lower MAX or raise LEASE_SECONDS)"
		return 1
		;;
	*) log "extending lease $lease_id failed ($(error_message)); painting on" ;;
	esac
}

# Paints the leased cells into $WORK/results.jsonl, one result a line, stopping early when asked.
# Fails if the lease was lost meanwhile.
paint_lease() {
	local lease_id=$1 batch row col kind x y width maxit size rows cols
	: >"$WORK/results.jsonl"
	jq -r '.cells[] | [.batchId, .row, .col, .kind, (.view.x // ""), (.view.y // ""), (.view.width // ""),
		(.maxIterations // ""), (.tileSize // ""), (.rows // ""), (.cols // "")] | @tsv' "$WORK/lease.json" >"$WORK/cells.tsv" ||
		return 1
	# The cells come on descriptor 3, so nothing in the loop can read them off stdin by mistake.
	while IFS=$'\t' read -r batch row col kind x y width maxit size rows cols <&3; do
		((stopping)) && break
		keep_lease "$lease_id" || return 1
		paint_cell "$batch" "$row" "$col" "$kind" "$x" "$y" "$width" "$maxit" "$size" "$rows" "$cols" >>"$WORK/results.jsonl" ||
			break
		if [[ $VERBOSE == 1 ]]; then log "painted cell ($row, $col) of batch $batch"; fi
	done 3<"$WORK/cells.tsv"
}

# Sends what was painted. A completion refused for good (the lease expired, or bad results) is
# logged and left: the cells come back to the queue when the lease expires.
complete_lease() {
	local lease_id=$1 painted
	painted=$(awk 'END { print NR }' "$WORK/results.jsonl")
	if ((painted < $2)); then
		log "lease $lease_id: stopping; the $(($2 - painted)) cells not painted come back when it expires"
	fi
	((painted > 0)) || return 0
	jq -s '{results: .}' "$WORK/results.jsonl" >"$WORK/complete.json" || return 1
	post "/api/leases/$lease_id/complete" "$WORK/complete.json"
	case $HTTP_STATUS in
	200) log "lease $lease_id: $(jq -r '"recorded \(.recorded), ignored \(.ignored)"' "$WORK/answer.json")" ;;
	409) log "lease $lease_id expired before it was completed; its cells went back (lower MAX or raise LEASE_SECONDS)" ;;
	000) log "lease $lease_id abandoned unanswered; its cells come back when it expires" ;;
	*) log "completing lease $lease_id failed ($(error_message)); its cells come back when it expires" ;;
	esac
}

main() {
	check_settings
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/finish-line-worker.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	# Asked to stop, it finishes the cell in hand rather than dying halfway through a request.
	trap 'stopping=1' TERM INT
	printf 'Authorization: Bearer %s\n' "$WORKER_TOKEN" >"$WORK/auth-header"
	log "leasing cells tagged \"$TAG\" from $FINISH_LINE_URL (up to $MAX for $LEASE_SECONDS s)"

	local lease_id cells
	while ((!stopping)); do
		take_lease || continue
		lease_taken_at=$SECONDS
		lease_id=$(jq -r .leaseId "$WORK/lease.json")
		cells=$(jq '.cells | length' "$WORK/lease.json")
		if ((cells == 0)); then
			pause 0.5
			continue
		fi
		log "lease $lease_id: $cells cells"
		paint_lease "$lease_id" || continue
		complete_lease "$lease_id" "$cells"
	done
	log "stopped"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
