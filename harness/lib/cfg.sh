# harness/scenarios.cfg, read into bash (sourced). One INI file, one section
# per scenario (the format is described at the top of that file and in
# docs/harness.md).
#
#   cfg_load FILE          parses FILE into CFG (assoc array "NAME.key" ->
#                          value) and CFG_NAMES (section names, file order);
#                          returns 1 with one "FILE:LINE: problem" on stderr
#   cfg_get NAME KEY [DEF] prints a value (or DEF)
#   cfg_select WORD...     prints the scenarios named, or of the groups named
#                          (`all`: every one), in file order; 1 if a word is
#                          neither a scenario nor a group
#   cfg_vm_get NAME VM KEY prints a VM's value with the runner's defaults

declare -gA CFG=()
declare -ga CFG_NAMES=()

# Keys a section may have; V.KEY for every VM V of `vms`.
CFG_SCENARIO_KEYS="description groups timeout vms setup host host_after driver links helpers"
CFG_VM_KEYS="kind run mem smp cpu dom0_mem xen_args kernel_args channels markers files start vhost_user_blk"

cfg_load() {
	local file=$1 line n=0 sec="" key val k ok
	CFG=()
	CFG_NAMES=()
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		line=${line%%$'\r'}
		# Comments: whole lines, or " ;" / " #" after a value.
		case "$line" in '' | '#'* | ';'*) continue ;; esac
		line=$(sed -E 's/[[:space:]]+[;#].*$//; s/^[[:space:]]+//; s/[[:space:]]+$//' <<<"$line")
		[ -n "$line" ] || continue
		if [[ "$line" =~ ^\[([a-z0-9][a-z0-9._-]*)\]$ ]]; then
			sec=${BASH_REMATCH[1]}
			if [ -n "${CFG[$sec.__line]:-}" ]; then
				echo "$file:$n: scenario [$sec] given twice (first at line ${CFG[$sec.__line]})" >&2
				return 1
			fi
			CFG[$sec.__line]=$n
			CFG_NAMES+=("$sec")
			continue
		fi
		if ! [[ "$line" =~ ^([A-Za-z0-9_.-]+)[[:space:]]*=[[:space:]]*(.*)$ ]]; then
			echo "$file:$n: not a [section] or key = value line: $line" >&2
			return 1
		fi
		key=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
		if [ -z "$sec" ]; then
			echo "$file:$n: $key outside any [scenario] section" >&2
			return 1
		fi
		ok=0
		if [[ "$key" == *.* ]]; then
			for k in $CFG_VM_KEYS; do [ "${key#*.}" = "$k" ] && ok=1; done
		else
			for k in $CFG_SCENARIO_KEYS; do [ "$key" = "$k" ] && ok=1; done
		fi
		if [ $ok = 0 ]; then
			echo "$file:$n: unknown key '$key' in [$sec] (scenario keys: $CFG_SCENARIO_KEYS; VM keys V.KEY: $CFG_VM_KEYS)" >&2
			return 1
		fi
		if [ -n "${CFG[$sec.$key]+set}" ]; then
			echo "$file:$n: $key given twice in [$sec]" >&2
			return 1
		fi
		CFG[$sec.$key]=$val
		CFG[$sec.$key.__line]=$n
	done <"$file"
	cfg_check "$file"
}

# Whole-file checks: values of the right shape, VM keys only for listed VMs.
cfg_check() {
	local file=$1 s k v vm vms
	for s in "${CFG_NAMES[@]}"; do
		vms=$(cfg_get "$s" vms l1)
		for k in "${!CFG[@]}"; do
			[[ "$k" == "$s".* ]] || continue
			[[ "$k" == *.__line ]] && continue
			local rest=${k#"$s".}
			[[ "$rest" == *.* ]] || continue
			vm=${rest%%.*}
			if ! grep -qw -- "$vm" <<<"$vms"; then
				echo "$file:${CFG[$k.__line]}: [$s] $rest: no VM '$vm' in vms ($vms)" >&2
				return 1
			fi
		done
		v=$(cfg_get "$s" timeout 300)
		if ! [[ "$v" =~ ^[0-9]+$ ]] || [ "$v" -lt 10 ]; then
			echo "$file:${CFG[$s.timeout.__line]:-${CFG[$s.__line]}}: [$s] timeout must be a number of seconds >= 10" >&2
			return 1
		fi
		for vm in $vms; do
			v=$(cfg_vm_get "$s" "$vm" kind)
			case "$v" in xen | linux) ;; *)
				echo "$file:${CFG[$s.$vm.kind.__line]}: [$s] $vm.kind must be xen or linux" >&2
				return 1
				;;
			esac
			for k in start vhost_user_blk; do
				v=$(cfg_vm_get "$s" "$vm" $k)
				case "$v" in yes | no) ;; *)
					echo "$file:${CFG[$s.$vm.$k.__line]}: [$s] $vm.$k must be yes or no" >&2
					return 1
					;;
				esac
			done
			for k in mem smp; do
				v=$(cfg_vm_get "$s" "$vm" $k)
				if ! [[ "$v" =~ ^[1-9][0-9]*$ ]]; then
					echo "$file:${CFG[$s.$vm.$k.__line]}: [$s] $vm.$k must be a positive number" >&2
					return 1
				fi
			done
		done
	done
}

cfg_get() {
	local k="$1.$2"
	if [ -n "${CFG[$k]+set}" ]; then
		printf '%s\n' "${CFG[$k]}"
	else
		printf '%s\n' "${3:-}"
	fi
}

cfg_vm_get() {
	local s=$1 vm=$2 key=$3 first def
	first=$(cfg_get "$s" vms l1)
	first=${first%% *}
	case "$key" in
	kind) def=xen ;;
	run) [ "$vm" = "$first" ] && def=$s || def="" ;;
	mem) def=2048 ;;
	smp) def=2 ;;
	cpu) def=qemu64 ;;
	dom0_mem) def=1024M ;;
	markers) [ "$vm" = "$first" ] && def=yes || def=no ;;
	start) def=yes ;;
	vhost_user_blk) def=no ;;
	*) def="" ;;
	esac
	cfg_get "$s" "$vm.$key" "$def"
}

cfg_select() {
	local w s found out=() rc=0
	for w in "$@"; do
		found=0
		for s in "${CFG_NAMES[@]}"; do
			if [ "$w" = "$s" ] || [ "$w" = all ] ||
				grep -qw -- "$w" <<<"$(cfg_get "$s" groups)"; then
				found=1
				# each scenario once, in file order
				local have=0 o
				for o in "${out[@]}"; do [ "$o" = "$s" ] && have=1; done
				[ $have = 1 ] || out+=("$s")
			fi
		done
		if [ $found = 0 ]; then
			echo "e2e: '$w' is neither a scenario nor a group of harness/scenarios.cfg (see make e2e-list)" >&2
			rc=1
		fi
	done
	# file order
	for s in "${CFG_NAMES[@]}"; do
		for w in "${out[@]}"; do [ "$w" = "$s" ] && echo "$s"; done
	done
	return $rc
}
