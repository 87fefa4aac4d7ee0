package slurm

import (
	"strconv"
	"strings"

	"al.essio.dev/pkg/shellescape"
)

// jobScript is the body of every batch script Trainyard submits. It is fixed
// text; batchScript puts one line before it, `set -- VALUES`, where every
// value (the run folder, the limit, the node count, the job's argv) is
// quoted exactly once by shellescape, so no user value is ever parsed as
// shell code. The script then:
//
//   - enters DIR/work (the job's files, staged by Submit) and clears the
//     exit and stop files of an earlier attempt (a requeued job starts over);
//   - sets HOME from the password database when the environment has none
//     (slurmrestd passes only the environment Trainyard sends);
//   - looks its own tools up in the run's PATH and then the standard
//     places, and gives the program the run's PATH unchanged;
//   - starts the program in its own session (setsid) so the watchdog can
//     stop its whole process group: directly as `env -- ARGV` for one node
//     (env makes argv[0] a program, never a shell builtin), or for several
//     nodes through `srun --ntasks-per-node=1`, each task exporting
//     RANK/NODE_RANK from Slurm's SLURM_PROCID/SLURM_NODEID and MASTER_ADDR
//     from SLURM_LAUNCH_NODE_IPADDR (the batch host, where rank 0 runs: an
//     address, so node names need not resolve);
//   - a watchdog enforces the run's maximum duration to the millisecond
//     (Slurm's own time_limit is whole minutes, checked every 30 s, and is
//     only the backstop): it writes DIR/stop and stops the group, TERM then
//     KILL after GRACE seconds;
//   - for several nodes, the first rank that fails records "RANK CODE" in
//     DIR/failed/rank (mkdir makes it the first), and that code is the
//     job's: srun itself returns the highest code of all ranks, often the
//     SIGTERM of the ranks it stopped after the failure;
//   - writes the exit code to DIR/exit (tmp + mv), so Status still knows
//     the outcome after Slurm has forgotten the job (MinJobAge).
//
// srun finds slurm.conf because slurmd puts SLURM_CONF (its own config
// file) into every batch job's environment (measured on 22.05, REST-submitted
// jobs included); nothing about it is sent from this server.
const jobScript = `
d=$1 limit=$2 limittext=$3 grace=$4 nnodes=$5
shift 5
# The run's PATH is the program's; the wrapper's own tools are looked up in
# it and then in the standard places, so a PATH of only a venv's bin (or
# none) cannot break the wrapper, and a site's srun in the run's PATH wins.
userpath=${PATH-}
export PATH="${PATH:+$PATH:}/usr/local/bin:/usr/bin:/bin"
setsid_bin=$(command -v setsid) env_bin=$(command -v env)
rm -rf "$d/exit" "$d/stop" "$d/failed"
if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then
	echo "trainyard: attempt $((SLURM_RESTART_COUNT + 1)) of Slurm job ${SLURM_JOB_ID} on ${SLURM_JOB_NODELIST}"
fi
finish() {
	echo "$1" >"$d/exit.tmp" && mv -f "$d/exit.tmp" "$d/exit"
	exit "$1"
}
cd "$d/work" || { echo "trainyard: cannot enter $d/work" >&2; finish 97; }
if [ -z "${HOME:-}" ]; then
	HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
	export HOME
fi
export WORLD_SIZE="$nnodes" LOCAL_RANK=0
export MASTER_PORT="${MASTER_PORT:-$((20000 + ${SLURM_JOB_ID:-0} % 20000))}"
if [ "$nnodes" -gt 1 ]; then
	srun_bin=$(command -v srun) || { echo "trainyard: srun not found on $(hostname)" >&2; finish 127; }
	PATH=$userpath "$setsid_bin" "$srun_bin" --ntasks-per-node=1 --nodes="$nnodes" --ntasks="$nnodes" --kill-on-bad-exit=1 \
		/bin/bash -c 'd=$1
shift
export RANK=$SLURM_PROCID NODE_RANK=$SLURM_NODEID WORLD_SIZE=$SLURM_NTASKS LOCAL_RANK=0
export MASTER_ADDR="${MASTER_ADDR:-$SLURM_LAUNCH_NODE_IPADDR}"
"$0" -- "$@"
rc=$?
if [ "$rc" != 0 ] && mkdir "$d/failed" 2>/dev/null; then echo "$SLURM_PROCID $rc" >"$d/failed/rank"; fi
exit "$rc"' "$env_bin" "$d" "$@" </dev/null &
else
	export RANK=0 NODE_RANK=0 MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
	PATH=$userpath "$setsid_bin" "$env_bin" -- "$@" </dev/null &
fi
pid=$!
if [ "$limit" != 0 ]; then
	(
		sleep "$limit"
		kill -0 "$pid" 2>/dev/null || exit 0
		echo "timeout $limittext" >"$d/stop"
		kill -s TERM -- "-$pid" 2>/dev/null
		sleep "$grace"
		kill -s KILL -- "-$pid" 2>/dev/null
	) </dev/null >/dev/null 2>&1 &
	watchdog=$!
fi
trap 'kill -s TERM -- "-$pid" 2>/dev/null' TERM
while :; do
	wait "$pid"
	rc=$?
	# wait returns early (rc > 128) when a trapped signal arrives; the
	# program's own status is only final once it is gone.
	kill -0 "$pid" 2>/dev/null || break
done
[ -n "${watchdog:-}" ] && kill "$watchdog" 2>/dev/null
# srun reports the highest exit code of all ranks, often the SIGTERM of
# the ranks it stopped after the first failure: the first failure counts.
if [ -s "$d/failed/rank" ]; then
	read -r frank frc <"$d/failed/rank" && rc=$frc
fi
finish "$rc"
`

// batchScript returns the script submitted for one job: the fixed body with
// its values set as positional parameters, each quoted once.
func batchScript(runDir string, limitSeconds, limitText string, grace, nodes int, argv []string) string {
	vals := append([]string{runDir, limitSeconds, limitText, strconv.Itoa(grace), strconv.Itoa(nodes)}, argv...)
	var b strings.Builder
	b.WriteString("#!/bin/bash\n# Trainyard job wrapper: every value below is quoted once; the rest is fixed text.\n")
	b.WriteString("set -- ")
	b.WriteString(shellescape.QuoteCommand(vals))
	b.WriteString("\n")
	b.WriteString(jobScript)
	return b.String()
}
