# Reading a VM's console log (sourced): the markers of /init
# (images/initramfs/init) and the lines that end a run at once.
#
#   console_fatal FILE       prints the first fatal line (Xen or Linux panic,
#                            oops, BUG), returns 0 when there is one
#   console_fatal_seen FILE  0 when there is one (one process: for polling)
#   console_has FILE MARKER  BEGIN or RESULT seen
#   console_result FILE      the rc of "ARGO-E2E: RESULT rc=N"
#   console_cases FILE       "pass fail skip" counts of the CASE lines so far
#   console_milestone FILE   the furthest boot step reached (for progress)

CONSOLE_FATAL_RE='Panic on CPU|Kernel panic|Oops: |BUG: |kernel BUG at|general protection fault|Unable to handle kernel|FATAL TRAP|Xen BUG at'

console_fatal() {
	grep -Em1 "$CONSOLE_FATAL_RE" "$1" 2>/dev/null | tr -d '\r' | cut -c1-200 | grep .
}

console_fatal_seen() {
	grep -Eqs "$CONSOLE_FATAL_RE" "$1"
}

console_has() {
	grep -q "^ARGO-E2E: $2" "$1" 2>/dev/null
}

console_result() {
	tr -d '\r' <"$1" | sed -n 's/^ARGO-E2E: RESULT rc=\([0-9]*\).*/\1/p' | head -n 1
}

console_cases() {
	tr -d '\r' <"$1" 2>/dev/null | awk '/^ARGO-E2E: CASE / { n[$4]++ }
		END { printf "%d %d %d\n", n["PASS"], n["FAIL"], n["SKIP"] }'
}

console_milestone() {
	local f=$1
	if console_has "$f" RESULT; then echo "result"
	elif console_has "$f" BEGIN; then echo "scenario running"
	elif grep -q '^init: ' "$f" 2>/dev/null; then echo "/init"
	elif grep -q 'Linux version' "$f" 2>/dev/null; then echo "Linux booting"
	elif grep -q '(XEN)' "$f" 2>/dev/null; then echo "Xen booting"
	elif [ -s "$f" ]; then echo "firmware"
	else echo "starting"
	fi
}
