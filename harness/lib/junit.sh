# JUnit XML and the summary line of one scenario (sourced).
#
#   junit_begin SCENARIO FILE   starts a case list in FILE.cases
#   junit_case NAME PASS|FAIL|SKIP MESSAGE [SECONDS]
#   junit_cases_from FILE [PREFIX]   every "ARGO-E2E: CASE name STATUS msg"
#                               line of FILE as a case (PREFIX before names);
#                               prints how many failed
#   junit_end TIME PROPS...     writes FILE: one testsuite, properties k=v
# Counts: JUNIT_PASS, JUNIT_FAIL, JUNIT_SKIP.

junit_escape() {
	sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' \
		-e "s/'/\&apos;/g" -e 's/[^[:print:]\t]//g'
}

junit_begin() {
	JUNIT_SCENARIO=$1 JUNIT_FILE=$2
	JUNIT_PASS=0 JUNIT_FAIL=0 JUNIT_SKIP=0
	: >"$JUNIT_FILE.cases"
}

junit_case() {
	local cname msg
	cname=$(printf '%s' "$1" | junit_escape)
	msg=$(printf '%s' "$3" | junit_escape)
	printf '    <testcase classname="e2e.%s" name="%s" time="%s">' "$JUNIT_SCENARIO" "$cname" "${4:-0}" >>"$JUNIT_FILE.cases"
	case "$2" in
	PASS) JUNIT_PASS=$((JUNIT_PASS + 1)) ;;
	SKIP)
		JUNIT_SKIP=$((JUNIT_SKIP + 1))
		printf '<skipped message="%s"/>' "$msg" >>"$JUNIT_FILE.cases"
		;;
	*)
		JUNIT_FAIL=$((JUNIT_FAIL + 1))
		printf '<failure message="%s"/>' "$msg" >>"$JUNIT_FILE.cases"
		;;
	esac
	printf '</testcase>\n' >>"$JUNIT_FILE.cases"
}

junit_cases_from() {
	local file=$1 prefix=${2:-} cname status msg fails=0
	while read -r _ _ cname status msg; do
		case "$status" in
		PASS | SKIP) junit_case "$prefix$cname" "$status" "$msg" ;;
		FAIL)
			junit_case "$prefix$cname" FAIL "$msg"
			fails=$((fails + 1))
			;;
		*)
			junit_case "$prefix$cname" FAIL "bad CASE line status '$status' $msg"
			fails=$((fails + 1))
			;;
		esac
	done < <(grep '^ARGO-E2E: CASE ' "$file" 2>/dev/null || true)
	echo "$fails"
}

junit_end() {
	local t=$1 p k v
	shift
	{
		echo '<?xml version="1.0" encoding="UTF-8"?>'
		printf '<testsuites>\n  <testsuite name="e2e.%s" tests="%d" failures="%d" errors="0" skipped="%d" time="%s">\n' \
			"$JUNIT_SCENARIO" $((JUNIT_PASS + JUNIT_FAIL + JUNIT_SKIP)) "$JUNIT_FAIL" "$JUNIT_SKIP" "$t"
		printf '    <properties>'
		for p in "$@"; do
			k=${p%%=*} v=${p#*=}
			printf '<property name="%s" value="%s"/>' "$k" "$(printf '%s' "$v" | junit_escape)"
		done
		printf '</properties>\n'
		cat "$JUNIT_FILE.cases"
		printf '  </testsuite>\n</testsuites>\n'
	} >"$JUNIT_FILE"
	rm -f "$JUNIT_FILE.cases"
}
