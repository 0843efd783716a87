#!/bin/bash
# tools/slurm/sweep.sbatch without Slurm: a fake sbatch records what the submit step asks
# for; the array tasks run by hand (SLURM_ARRAY_TASK_ID set), one of them twice (a
# requeue resumes), then the merge job; the merged results equal an unsharded run's
# series and weights (test_shard checks every dataset; here the script's plumbing).
# usage: slurm_test.sh PATH/TO/apical
set -euo pipefail
apical="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
script="$(cd "$(dirname "$0")/.." && pwd)/tools/slurm/sweep.sbatch"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "slurm_test: $*" >&2; exit 1; }

cat > x.ini <<'INI'
[experiment]
model = microcircuit
name = slurmtest
[train]
epochs = 2
[sweep]
t_pres = 4, 8
seed = 1..3
INI
mkdir bin
cat > bin/sbatch <<'SH'
#!/bin/bash
echo "$*" >> "$PWD/sbatch.log"
n=$(wc -l < "$PWD/sbatch.log")
echo "10$n;cluster"
SH
cat > bin/sinfo <<'SH'
#!/bin/bash
echo "gpu:h100:4"
SH
chmod +x bin/sbatch bin/sinfo
export PATH="$tmp/bin:$PATH" APICAL_BINARY="$apical"

# submit: an array of 3 tasks with a GPU each (sinfo lists GPUs), and a merge job after it
out=$(bash "$script" x.ini 3 --set train.epochs=2)
grep -q "shards job 101 (array 0-2), merge job 102" <<< "$out" || fail "submit said: $out"
line1=$(sed -n 1p sbatch.log) line2=$(sed -n 2p sbatch.log)
[[ "$line1" == *"--array=0-2"* && "$line1" == *"--gpus-per-task=1"* ]] || fail "array: $line1"
[[ "$line1" == *"x.ini 3 --set train.epochs=2" ]] || fail "array arguments: $line1"
[[ "$line2" == *"--dependency=afterok:101"* && "$line2" == *"--merge x.ini 3"* ]] || fail "merge: $line2"
rm sbatch.log
APICAL_GPUS=0 bash "$script" x.ini 2 > /dev/null
[[ "$(sed -n 1p sbatch.log)" != *"--gpus-per-task"* ]] || fail "APICAL_GPUS=0 still asks for GPUs"
bash "$script" x.ini zero 2> err.txt && fail "N = zero accepted"
grep -q "expected the number of shards" err.txt || fail "N = zero: $(cat err.txt)"

# a failed task resubmitted: the same command with --tasks; the old merge job (marked with
# the run directory; another run's is left alone) is cancelled, a new one submitted
cat > bin/squeue <<'SH'
#!/bin/bash
echo "201|apical-merge:runs/slurmtest"
echo "202|apical-merge:runs/other"
echo "203|"
SH
cat > bin/scancel <<'SH'
#!/bin/bash
echo "$*" >> "$PWD/scancel.log"
SH
chmod +x bin/squeue bin/scancel
rm -f sbatch.log
out=$(APICAL_SBATCH="--time=01:00:00" bash "$script" --tasks 1 x.ini 3 --set train.epochs=2)
grep -q "cancelled the pending merge job(s): 201" <<< "$out" || fail "resubmit said: $out"
[ "$(cat scancel.log)" = "201" ] || fail "scancel got: $(cat scancel.log)"
line1=$(sed -n 1p sbatch.log) line2=$(sed -n 2p sbatch.log)
[[ "$line1" == *"--array=1 "* && "$line1" == *"--gpus-per-task=1"* && "$line1" == *"--time=01:00:00"* ]] ||
  fail "resubmitted array: $line1"
[[ "$line1" == *"x.ini 3 --set train.epochs=2" ]] || fail "resubmitted arguments: $line1"
[[ "$line2" == *"--comment=apical-merge:runs/slurmtest"* && "$line2" == *"--merge x.ini 3 --set train.epochs=2" ]] ||
  fail "new merge job: $line2"
bash "$script" --tasks "1;rm" x.ini 3 2> err.txt && fail "--tasks '1;rm' accepted"
rm -f sbatch.log scancel.log bin/squeue bin/scancel

# the array tasks, one of them requeued after it finished, then the merge job
for i in 0 1 2; do
  SLURM_ARRAY_TASK_ID=$i bash "$script" x.ini 3 --set train.epochs=2 > "task$i.txt" 2>&1 ||
    fail "task $i: $(tail -3 "task$i.txt")"
done
[ -f runs/slurmtest/shard-1-of-3/results.h5 ] || fail "no shard 1 results"
SLURM_ARRAY_TASK_ID=1 bash "$script" x.ini 3 --set train.epochs=2 > again.txt 2>&1 ||
  fail "requeued task: $(tail -3 again.txt)"
grep -q -- "--resume" again.txt && grep -q "already finished" again.txt ||
  fail "a requeued task did not resume: $(cat again.txt)"
bash "$script" --merge x.ini 3 --set train.epochs=2 > merge.txt 2>&1 || fail "merge: $(cat merge.txt)"
grep -q "merged 3 shards into runs/slurmtest/results.h5" merge.txt || fail "merge said: $(cat merge.txt)"

# a task signalled before its time limit (Slurm's --signal=B:TERM@120) passes SIGTERM on:
# apical writes a checkpoint inside a record and exits 143, the task is requeued, and the
# requeued task resumes inside that record (4 records of seconds: the signal's work unit
# does not end the run)
cat > long.ini <<'INI'
[experiment]
model = lif_stdp
name = slurmlong
[train]
epochs = 4
record_ms = 20000
[model]
n_pyr = 160
n_pv = 40
INI
cat > bin/scontrol <<'SH'
#!/bin/bash
echo "$*" >> "$PWD/scontrol.log"
SH
chmod +x bin/scontrol
long=runs/slurmlong/shard-0-of-1
SLURM_ARRAY_JOB_ID=300 SLURM_ARRAY_TASK_ID=0 bash "$script" long.ini 1 > long.txt 2>&1 &
task=$!
for _ in $(seq 300); do [ -f $long/checkpoints/epoch-000000000.h5 ] && break; sleep 0.1; done
sleep 1
kill -TERM $task
rc=0
wait $task || rc=$?
[ "$rc" = 143 ] || fail "the signalled task exited $rc: $(tail -3 long.txt)"
grep -q "interrupted by SIGTERM after" long.txt && grep -q "requeued" long.txt ||
  fail "the signalled task said: $(cat long.txt)"
[ "$(cat scontrol.log)" = "requeue 300_0" ] || fail "scontrol got: $(cat scontrol.log)"
ls $long/checkpoints | grep -q '^epoch-[0-9]\{9\}\.[0-9]\{12\}\.h5$' ||
  fail "no checkpoint inside the record: $(ls $long/checkpoints)"
SLURM_ARRAY_TASK_ID=0 bash "$script" long.ini 1 > long2.txt 2>&1 ||
  fail "the requeued task: $(tail -3 long2.txt)"
grep -q "of the next record" $long/log.txt || fail "not resumed inside the record: $(cat $long/log.txt)"

# a missing shard fails the merge job with its name
rm -r runs/slurmtest/shard-2-of-3
bash "$script" --merge x.ini 3 > merge2.txt 2>&1 && fail "merge without shard 2 succeeded"
grep -q "shard-2-of-3/results.h5" merge2.txt || fail "missing shard: $(cat merge2.txt)"
echo "slurm_test: ok"
