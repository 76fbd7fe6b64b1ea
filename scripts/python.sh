#!/usr/bin/env bash
# The interpreter `make` builds .venv on: the system's own python3 (/usr/bin/python3) when it is
# 3.11 or newer, can make a venv with pip and has the headers mailtrace's C modules compile
# against, else python3 from PATH.
#
# Why the system's first: Debian's python3.11 has the interpreter linked into its binary, where
# a version manager's default build (pyenv here) loads a shared libpython, compiled without
# profile-guided optimisation (no --enable-optimizations in its CONFIG_ARGS). On this machine the
# same code ran 12% faster on Debian's (a Python loop), a 1,000-line `mailtrace report` started
# 13% sooner (0.67 s against 0.77 s, 12 alternating runs) and the 1,000,000-line report took 3.5%
# less time (1.714 s against 1.777 s, 16 alternating runs). `make PY=/path/to/python …` picks
# another.
set -euo pipefail
usable() {
  "$1" - <<'PY' 2>/dev/null
import os, sys, sysconfig
import ensurepip, venv  # Debian ships venv's pip in python3-venv: without it, no venv
# Without Python.h (Debian's python3-dev) the C parser would not build: ten times slower.
headers = os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
sys.exit(0 if sys.version_info >= (3, 11) and headers else 1)
PY
}
for candidate in /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && usable "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done
echo python3
