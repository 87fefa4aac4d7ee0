package sshvm

import (
	"crypto/sha256"
	"encoding/hex"
)

// jobScript is the one program Trainyard runs on a VM besides the probe. It
// is fixed text, uploaded once per VM to ~/.trainyard/bin/job-<hash>.sh, and
// started as `/bin/sh <script> <mode> <args...>`: every value (paths, the
// job's environment, its argv) arrives as a positional parameter that the
// login shell received single-quoted by shellescape, so no user value is ever
// parsed as shell code. Like the local backend's wrapper:
//
//   - launch DIR LIMIT LIMITCEIL LIMITTEXT GRACE K=V... ARGV... copies the
//     job's files out of the blob store (DIR/plan), starts `run` with setsid in
//     its own session and process group (pid = pgid = sid), waits for it to
//     record "pid start-time" in DIR/pid and prints that line.
//   - run records its pid, cds into DIR/work,
//     starts a watchdog that stops the group after LIMIT seconds (0 = none),
//     runs the program as (exec env -- K=V... ARGV...), so the job's
//     environment reaches only the program and argv[0] is never a shell builtin,
//     writes its exit code to DIR/exit (tmp + mv) and finally kills whatever
//     the program left running in its group.
//   - status DIR PID START GRACE prints what Status needs and escalates a stop
//     older than GRACE seconds to SIGKILL.
//   - cancel DIR PID START GRACE records a "cancel" stop (first stop wins),
//     sends SIGTERM to the group, SIGKILL after GRACE seconds, and returns when
//     the group is gone.
//   - running JOBSDIR lists the run ids whose wrapper is still running.
//
// Stop markers (DIR/stop, "reason [detail] epoch") are created with ln, so
// the first one wins even when the watchdog, Status and Cancel race.
const jobScript = `# Trainyard job wrapper. Fixed text: every value arrives as a positional parameter.
mode=$1
shift
nap() { sleep 0.05 2>/dev/null || sleep 1; }
stopmark() { # stopmark DIR REASON...
	sd=$1; shift
	printf '%s %s\n' "$*" "$(date +%s)" >"$sd/stop.$$" && ln "$sd/stop.$$" "$sd/stop" 2>/dev/null
	rc=$?
	rm -f "$sd/stop.$$"
	return $rc
}
alive() { # alive PID START: is the wrapper with that pid and start time running?
	[ -r "/proc/$1/stat" ] || return 1
	read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ ast _ <"/proc/$1/stat" 2>/dev/null || return 1
	[ "$ast" = "$2" ]
}
groupalive() { kill -s 0 -- "-$1" 2>/dev/null; }
case $mode in
launch)
	d=$1
	shift
	[ -d "$d/work" ] || { echo "trainyard: no work folder $d/work" >&2; exit 97; }
	if [ -f "$d/plan" ] && [ ! -d "$d/launched" ]; then
		while IFS= read -r line; do
			sha=${line%% *}; rest=${line#* }; fmode=${rest%% *}; p=${rest#* }
			if [ "$sha" = d ]; then
				mkdir -p "$d/work/$p" || exit 96
				continue
			fi
			f="$d/work/$p"
			mkdir -p "$(dirname "$f")" || exit 96
			cp "$d/../../blobs/$sha" "$f" || { echo "trainyard: blob $sha missing" >&2; exit 95; }
			chmod "$fmode" "$f" || exit 96
		done <"$d/plan"
	fi
	# The marker makes launch idempotent: a retry after a lost connection
	# waits for the job started before instead of starting a second one.
	if mkdir "$d/launched" 2>/dev/null; then
		: >>"$d/output.log"
		setsid /bin/sh "$0" run "$d" "$@" </dev/null >>"$d/output.log" 2>&1 &
	fi
	i=0
	while [ ! -s "$d/pid" ]; do
		i=$((i+1))
		[ $i -gt 400 ] && { echo "trainyard: the job did not start" >&2; exit 98; }
		nap
	done
	printf 'trainyard-pid %s\n' "$(cat "$d/pid")"
	;;
run)
	d=$1; limit=$2; limitceil=$3; limittext=$4; grace=$5
	shift 5
	read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ st _ </proc/$$/stat
	echo "$$ $st" >"$d/pid.tmp" && mv -f "$d/pid.tmp" "$d/pid"
	if ! cd "$d/work"; then
		echo 97 >"$d/exit.tmp"
		mv -f "$d/exit.tmp" "$d/exit"
		exit 97
	fi
	trap : HUP INT TERM
	if [ "$limit" != 0 ]; then
		(
			trap : TERM
			sleep "$limit" 2>/dev/null || sleep "$limitceil"
			[ -e "$d/exit" ] && exit 0
			stopmark "$d" timeout "$limittext"
			kill -s TERM -- "-$$" 2>/dev/null
			sleep "$grace"
			kill -s KILL -- "-$$" 2>/dev/null
		) </dev/null >/dev/null 2>&1 &
	fi
	# env applies the job's K=V pairs in the program's process only, so they
	# can't change this script's variables or PATH.
	(exec env -- "$@")
	echo $? >"$d/exit.tmp"
	mv -f "$d/exit.tmp" "$d/exit"
	kill -s KILL 0
	;;
status)
	d=$1; pid=$2; st=$3; grace=$4
	[ -d "$d" ] || { echo missing; exit 0; }
	if [ -f "$d/exit" ]; then echo "exit $(cat "$d/exit")"; fi
	if [ -f "$d/stop" ]; then echo "stop $(cat "$d/stop")"; fi
	if alive "$pid" "$st"; then
		echo alive
		if [ -f "$d/stop" ] && [ ! -f "$d/exit" ]; then
			at=$(sed 's/.* //' "$d/stop")
			now=$(date +%s)
			if [ $((now - at)) -ge "$grace" ]; then kill -s KILL -- "-$pid" 2>/dev/null; fi
		fi
	fi
	;;
cancel)
	d=$1; pid=$2; st=$3; grace=$4
	alive "$pid" "$st" || { echo "trainyard-cancel ended"; exit 0; }
	[ -f "$d/exit" ] || stopmark "$d" cancel
	kill -s TERM -- "-$pid" 2>/dev/null
	i=0
	while groupalive "$pid"; do
		i=$((i+1))
		if [ $i -gt $((grace*20)) ]; then
			kill -s KILL -- "-$pid" 2>/dev/null
			j=0
			while groupalive "$pid"; do
				j=$((j+1)); [ $j -gt 40 ] && { echo "trainyard-cancel stuck"; exit 0; }
				nap
			done
			break
		fi
		nap
	done
	echo "trainyard-cancel stopped"
	;;
running)
	for p in "$1"/*/pid; do
		[ -f "$p" ] || continue
		jd=$(dirname "$p")
		[ -f "$jd/exit" ] && continue
		read -r rpid rst <"$p" || continue
		alive "$rpid" "$rst" && printf 'trainyard-run %s\n' "$(basename "$jd")"
	done
	exit 0
	;;
*)
	echo "trainyard: unknown mode $mode" >&2
	exit 2
	;;
esac
`

// probeScript checks what a VM offers. Fixed text; it takes no arguments.
const probeScript = `echo "kernel=$(uname -s)"
if [ -r /etc/os-release ]; then . /etc/os-release; echo "os=${PRETTY_NAME:-$NAME}"; fi
echo "python=$(command -v python3)"
command -v python3 >/dev/null 2>&1 && echo "pyversion=$(python3 -c 'import platform; print(platform.python_version())' 2>&1)"
echo "setsid=$(command -v setsid)"
echo "nproc=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
echo "diskkb=$(df -Pk "$HOME" | awk 'NR==2 {print $4}')"
if command -v nvidia-smi >/dev/null 2>&1; then echo "gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')"; else echo "gpus=none"; fi
echo "memkb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"
echo "home=$HOME"
echo "shell=$SHELL"
`

// scriptName is the file name of jobScript on the VM: a new version of the
// script gets a new name, so jobs started by an older server keep theirs.
var scriptName = func() string {
	sum := sha256.Sum256([]byte(jobScript))
	return "job-" + hex.EncodeToString(sum[:6]) + ".sh"
}()
