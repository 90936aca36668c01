#!/usr/bin/env python3
"""exit_status.py CMD ARGS...: runs CMD, passes its output on (stderr merged
into stdout) and prints 'exit status N'; exits 0, so FileCheck sees N."""
import subprocess
import sys

p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
print(p.stdout, end="")
print(f"exit status {p.returncode}")
