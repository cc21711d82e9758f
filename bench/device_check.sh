#!/usr/bin/env bash
# One prepared run on a lent GPU machine (see bench/RESULTS.md): DQN correctness on CUDA,
# DQN SPS against SB3 on two pinned (quiet) cores and on CUDA, rollout throughput.
# Needs wheels of gymnasium, ale-py, farama-notifications, stable-baselines3 for its Python in .whl/.
set -u
REPO=$(pwd)
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . >/tmp/pip.log 2>&1 || { tail -5 /tmp/pip.log; exit 1; }
export PYTHONPATH=/tmp/site
cd /tmp
{ nproc; lscpu | grep -E "Model name"; nvidia-smi -L; python3 -c "import torch; print(torch.__version__)"; } 2>&1 | tee $OUT/dqn_machine.txt
echo "== DQN SPS, 2 pinned cores, CPU"
timeout 170 taskset -c 0,1 python3 $REPO/bench/dqn_atari_sps.py --steps 3000 --learning-starts 1000 2>&1 | grep -v Warn | tee $OUT/dqn_bench_2cores.txt
echo "== rollout, 2 pinned cores"
timeout 60 taskset -c 0,1 python3 $REPO/bench/atari_rollout.py --device cpu --steps 16000 2>&1 | tee $OUT/rollout_2cores.txt
echo "== rollout, cuda, 64 envs 16 threads"
timeout 60 python3 $REPO/bench/atari_rollout.py --device cuda --envs 64 --threads 16 --steps 64000 2>&1 | tee $OUT/rollout_cuda.txt
echo "== DQN tests on CUDA (device auto)"
timeout 240 python3 -m pytest -q -p no:cacheprovider $REPO/tests/test_dqn.py $REPO/tests/test_replay.py 2>&1 | tail -15 | tee $OUT/dqn_tests_cuda.txt
