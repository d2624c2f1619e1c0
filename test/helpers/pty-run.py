"""Runs a command on a pseudo-terminal (as a user's terminal would) and copies what it draws to
stdout, byte for byte; exits with the command's exit code. Usage: pty-run.py COLUMNS CMD ARG..."""

import fcntl
import os
import struct
import subprocess
import sys
import termios

columns, argv = int(sys.argv[1]), sys.argv[2:]
leader, follower = os.openpty()
fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
child = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, close_fds=True)
os.close(follower)
while True:
    try:
        chunk = os.read(leader, 65536)
    except OSError:  # EIO: every holder of the terminal has closed it
        break
    if not chunk:
        break
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
sys.exit(child.wait())
