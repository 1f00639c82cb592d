"""Run a command on a pseudo-terminal (80x24), for the CLI tests.

Usage: python3 pty-run.py COMMAND [ARGS...]

What arrives on our stdin is typed into the terminal; what the command writes to the terminal
comes out on our stdout. Our exit status is the command's (128 + N when a signal N ended it).
The end of our stdin is not passed on: the test types Ctrl-D or Ctrl-C itself when it wants to.
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios

pid, master = pty.fork()
if pid == 0:
    # The child: stdin, stdout and stderr are the terminal. Give it a size before it starts.
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])

stdin = sys.stdin.fileno()
watched = [master, stdin]
while master in watched:
    readable, _, _ = select.select(watched, [], [])
    if stdin in readable:
        data = os.read(stdin, 4096)
        if data:
            os.write(master, data)
        else:
            watched.remove(stdin)
    if master in readable:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the terminal's last user has gone
            data = b""
        if data:
            os.write(sys.stdout.fileno(), data)
        else:
            watched.remove(master)

_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
