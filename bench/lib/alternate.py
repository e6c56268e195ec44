#!/usr/bin/env python3
"""Time commands in alternation: each round runs every command once, in a
fresh random order, so all of them see the same phases of a noisy VM (a
block of one command's runs, as hyperfine makes, can catch a slow minute
another command's block missed). Each run is posix_spawn + waitpid, with
output to /dev/null, as hyperfine -N does.

    alternate.py RUNS WARMUP CMD...     (each CMD one shell-quoted string)

Prints one line per command: median, quartiles, mean (ms); and exits
non-zero if a run fails.
"""
import os
import random
import shlex
import statistics
import sys
import time


def spawn(argv, devnull):
    t = time.perf_counter_ns()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status = os.waitpid(pid, 0)
    elapsed = (time.perf_counter_ns() - t) / 1e6
    if status != 0:
        sys.exit(f"error: {shlex.join(argv)} failed (wait status {status})")
    return elapsed


def main():
    runs, warmup = int(sys.argv[1]), int(sys.argv[2])
    cmds = [shlex.split(c) for c in sys.argv[3:]]
    devnull = os.open(os.devnull, os.O_RDWR)
    times = [[] for _ in cmds]
    for i in range(warmup + runs):
        order = list(range(len(cmds)))
        random.shuffle(order)
        for j in order:
            t = spawn(cmds[j], devnull)
            if i >= warmup:
                times[j].append(t)
    for c, t in zip(sys.argv[3:], times):
        q1, med, q3 = statistics.quantiles(t, n=4)
        print(f"{med:.3f}\t{q1:.3f}\t{q3:.3f}\t{statistics.mean(t):.3f}\t{c}")


main()
