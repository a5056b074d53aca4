# A chain of sim fabrics joined by relays, for the demo and the tests
# (sourced, bash; needs harness/lib.sh).
#
#   chain_up DIR BIN LEVELS [TRANSPORT]
#     Level i (0 = the outermost, the driver domain's) gets a fabric "l<i>"
#     (argo-simd on DIR/l<i>.sock, mac-permissive, the relay as domain 0 on
#     DIR/l<i>-relay.sock, the driver domain as domain 5 on
#     DIR/l<i>-dom5.sock), and a relay joined to level i-1 by a link over
#     TRANSPORT (unix by default, or tcp on 127.0.0.1). The innermost relay
#     imports port 7000 as l0:5:7000: a guest of the innermost level sends to
#     (0, 7000) and reaches the driver domain at L0.
#   chain_down    stops everything chain_up started.
#   CHAIN_PIDS    pids of the daemons, CHAIN_RELAY_PIDS[i] the relay of level i.
#
# Knobs (shell or environment variables, read when the configurations are
# written; <i> is a level number):
#   CHAIN_QUEUE_BYTES, CHAIN_RING_LEN   [relay] queue_bytes (8M), ring_len (256K)
#   CHAIN_RECONNECT_MS, CHAIN_PING_MS   [relay] reconnect_ms (50), ping_ms (500)
#   CHAIN_EXTRA_RELAY_CONF              more lines for every relay's [relay]
#   CHAIN_EXTRA_RELAY_CONF_<i>          more lines for relay i's [relay]
#   CHAIN_UP_CONNECT_<i>                the address relay i's "up" link connects
#                                       to instead of level i-1's (a proxy)
#   CHAIN_DOWN_LISTEN_<i>               the address relay i's "down" link listens
#                                       on instead of the generated one
#   CHAIN_UP_KEY_<i>                    the key file of relay i's "up" link
#   CHAIN_CERTS                         a folder: the links authenticate with
#                                       certificates instead of keys, relay i
#                                       with l<i>.crt and l<i>.key, trusting
#                                       ca.crt (chain_certs makes them)
#   CHAIN_DOWN_EXTRA_<i>                more lines for relay i's [link down]
#                                       (e.g. "announce = kvm-a")
#   CHAIN_NO_ROUTES_<i>                 when set, relay i gets no [routes]: its
#                                       links' peers and announcements only
#   CHAIN_POLICY_<i>                    lines put first in relay i's [policy],
#                                       before the generated allow rules
#   CHAIN_EXTRA_CONF_<i>                text appended to relay i's file (sections)
#   CHAIN_NO_WAIT_<i>                   when set, chain_up does not wait for relay
#                                       i's "up" link to come up
#   CHAIN_NO_ROUTES                     when set, no relay gets a [routes] section:
#                                       every route is learned from announcements
#                                       (each link may announce the levels beyond
#                                       its peer: "announce = ...")
#   CHAIN_RELAY_WRAP_<i>                a command prefix for relay i (e.g.
#                                       "ip netns exec NS"); it must exec the relay
#   CHAIN_SIMD_ARGS_<i>                 more options for level i's argo-simd (words:
#                                       e.g. "-D 7=DIR/l0-leaf.sock", a leaf's domain)

CHAIN_PIDS=()
declare -a CHAIN_RELAY_PIDS=()
declare -a CHAIN_SIMD_PIDS=()

# A fresh key file, private to us.
chain_key() {
	(umask 077 && head -c 32 /dev/urandom >"$1")
}

# chain_certs DIR LEVELS: a CA and a certificate per relay (l<i>, the hvid as
# its subjectAltName), with the openssl command line.
chain_certs() {
	local dir=$1 i
	mkdir -p "$dir"
	(
		cd "$dir" || exit 1
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
			-out ca.crt -subj /CN=argo-test-ca -days 2 2>/dev/null || exit 1
		for ((i = 0; i < $2; i++)); do
			chain_cert "$dir" "l$i" "l$i" || exit 1
		done
	)
}

# chain_cert DIR FILE NAME: DIR/FILE.crt and .key, a certificate for NAME
# signed by DIR/ca.
chain_cert() {
	(
		cd "$1" || exit 1
		umask 077
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$2.key" \
			-out "$2.csr" -subj "/CN=$3" 2>/dev/null &&
			printf 'subjectAltName=DNS:%s\n' "$3" >"$2.ext" &&
			openssl x509 -req -in "$2.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
				-out "$2.crt" -days 2 -extfile "$2.ext" 2>/dev/null
	)
}

# How relay i's links authenticate: a key file, or its certificate.
chain_auth_lines() {
	if [ -n "${CHAIN_CERTS:-}" ]; then
		printf 'cert = %s\ncert_key = %s\nca = %s\n' "$CHAIN_CERTS/l$2.crt" \
			"$CHAIN_CERTS/l$2.key" "$CHAIN_CERTS/ca.crt"
	else
		printf 'key = %s\n' "$1"
	fi
}

# The value of knob NAME_<i> (empty when not set).
chain_knob() {
	local name="$1_$2"
	printf '%s' "${!name:-}"
}

# Prints $1 as lines, if it is not empty.
chain_lines() {
	if [ -n "$1" ]; then printf '%s\n' "$1"; fi
}

chain_relay_config() {
	local dir=$1 i=$2 levels=$3 transport=$4 inner=$(( $3 - 1 ))
	local f="$dir/l$i.conf" port=$(( 17000 + $$ % 20000 + i ))
	local up_connect up_key down_listen
	up_connect=$(chain_knob CHAIN_UP_CONNECT "$i")
	down_listen=$(chain_knob CHAIN_DOWN_LISTEN "$i")
	up_key=$(chain_knob CHAIN_UP_KEY "$i")
	{
		echo "[relay]"
		echo "hvid = l$i"
		echo "fabric = sim:$dir/l$i-relay.sock"
		echo "control = $dir/l$i.ctl"
		echo "queue_bytes = ${CHAIN_QUEUE_BYTES:-8M}"
		echo "ring_len = ${CHAIN_RING_LEN:-256K}"
		echo "reconnect_ms = ${CHAIN_RECONNECT_MS:-50}"
		echo "ping_ms = ${CHAIN_PING_MS:-500}"
		chain_lines "${CHAIN_EXTRA_RELAY_CONF:-}"
		chain_lines "$(chain_knob CHAIN_EXTRA_RELAY_CONF "$i")"
		if [ "$i" -gt 0 ]; then
			echo "[link up]"
			echo "transport = $transport"
			if [ -n "$up_connect" ]; then
				echo "connect = $up_connect"
			elif [ "$transport" = tcp ]; then
				echo "connect = 127.0.0.1:$(( port - 1 ))"
			else
				echo "connect = $dir/l$(( i - 1 ))-down.sock"
			fi
			echo "peer = l$(( i - 1 ))"
			chain_auth_lines "${up_key:-$dir/key-$(( i - 1 ))-$i}" "$i"
			if [ -n "${CHAIN_NO_ROUTES:-}" ] && [ "$i" -ge 2 ]; then
				echo "announce = $(seq -s ' ' -f 'l%g' 0 $(( i - 2 )))"
			fi
		fi
		if [ "$i" -lt "$inner" ]; then
			echo "[link down]"
			echo "transport = $transport"
			if [ -n "$down_listen" ]; then
				echo "listen = $down_listen"
			elif [ "$transport" = tcp ]; then
				echo "listen = 127.0.0.1:$port"
			else
				echo "listen = $dir/l$i-down.sock"
			fi
			echo "peer = l$(( i + 1 ))"
			chain_auth_lines "$dir/key-$i-$(( i + 1 ))" "$i"
			if [ -n "${CHAIN_NO_ROUTES:-}" ] && [ $(( i + 2 )) -le "$inner" ]; then
				echo "announce = $(seq -s ' ' -f 'l%g' $(( i + 2 )) "$inner")"
			fi
			chain_lines "$(chain_knob CHAIN_DOWN_EXTRA "$i")"
		fi
		# CHAIN_NO_ROUTES: no relay has static routes; CHAIN_NO_ROUTES_<i>:
		# relay i has none.
		if [ -z "${CHAIN_NO_ROUTES:-}" ] && [ -z "$(chain_knob CHAIN_NO_ROUTES "$i")" ]; then
			echo "[routes]"
			local j
			for ((j = 0; j < levels; j++)); do
				[ "$j" -lt "$i" ] && echo "l$j = up"
				[ "$j" -gt "$i" ] && echo "l$j = down"
			done
		fi
		if [ "$i" -eq "$inner" ]; then
			echo "[imports]"
			echo "7000 = l0:5:7000"
		fi
		echo "[policy]"
		echo "default = deny"
		chain_lines "$(chain_knob CHAIN_POLICY "$i")"
		echo "rule = allow src l$inner dst l0:5:7000"
		echo "rule = allow src l0:5:7000 dst l$inner"
		chain_lines "$(chain_knob CHAIN_EXTRA_CONF "$i")"
	} >"$f"
}

chain_up() {
	local dir=$1 bin=$2 levels=$3 transport=${4:-unix} i pid
	for ((i = 0; i < levels - 1; i++)); do
		chain_key "$dir/key-$i-$(( i + 1 ))"
	done
	for ((i = 0; i < levels; i++)); do
		# shellcheck disable=SC2046 # the knob is words on purpose
		pid=$(start_simd "$bin" "$dir/l$i.sock" "$dir/simd-l$i.log" -m \
			-D "0=$dir/l$i-relay.sock" -D "5=$dir/l$i-dom5.sock" \
			$(chain_knob CHAIN_SIMD_ARGS "$i")) || return 1
		CHAIN_PIDS+=("$pid")
		CHAIN_SIMD_PIDS[$i]=$pid
		chain_relay_config "$dir" "$i" "$levels" "$transport"
	done
	# Outermost first, so that each relay finds its upstream listening.
	for ((i = 0; i < levels; i++)); do
		chain_start_relay "$dir" "$bin" "$i" || return 1
	done
	# Up when every relay but the outermost has its "up" link up.
	for ((i = 1; i < levels; i++)); do
		[ -n "$(chain_knob CHAIN_NO_WAIT "$i")" ] && continue
		chain_wait_link "$dir" "$bin" "$i" up 10 || return 1
	done
}

chain_start_relay() {
	local dir=$1 bin=$2 i=$3 wrap
	wrap=$(chain_knob CHAIN_RELAY_WRAP "$i")
	# shellcheck disable=SC2086 # the wrapper is words on purpose
	$wrap "$bin/argo-relayd" -v "$dir/l$i.conf" 2>>"$dir/relay-l$i.log" &
	CHAIN_RELAY_PIDS[$i]=$!
	# Serving once its control socket answers.
	local tries=200
	while [ $tries -gt 0 ]; do
		"$bin/argo-relayctl" -s "$dir/l$i.ctl" status >/dev/null 2>&1 && return 0
		kill -0 "${CHAIN_RELAY_PIDS[$i]}" 2>/dev/null || break
		sleep 0.05
		tries=$((tries - 1))
	done
	echo "relay l$i did not start (see $dir/relay-l$i.log)" >&2
	return 1
}

# chain_wait_link DIR BIN LEVEL LINK SECONDS: wait until that link is up.
chain_wait_link() {
	local dir=$1 bin=$2 i=$3 link=$4 tries=$(( $5 * 20 ))
	while [ $tries -gt 0 ]; do
		"$bin/argo-relayctl" -s "$dir/l$i.ctl" links 2>/dev/null |
			grep -qE "^  $link +.* up +frames" && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	echo "link $link of relay l$i not up after $5 s" >&2
	return 1
}

# Stops relays (SIGTERM, then checks they went) and fabrics.
chain_down() {
	local rc=0 pid i
	for i in "${!CHAIN_RELAY_PIDS[@]}"; do
		pid=${CHAIN_RELAY_PIDS[$i]}
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null || rc=1
	done
	# All at once, then wait: a daemon's exit can take its reaper a while.
	for pid in "${CHAIN_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${CHAIN_PIDS[@]}"; do
		wait_gone "$pid" 5 || rc=1
	done
	CHAIN_RELAY_PIDS=()
	CHAIN_PIDS=()
	return $rc
}
