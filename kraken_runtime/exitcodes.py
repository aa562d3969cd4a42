"""Documented process exit codes (README "Exit codes")."""

OK = 0
FAILED = 1  # what was asked failed (a checksum mismatch, a refused command, a crash)
USAGE = 2  # bad usage or unreadable input
TIMEOUT = 3  # ctl: no daemon answered within --timeout
INTERRUPTED = 130  # 128 + SIGINT: a command cut short by Ctrl-C (`run` stops cleanly with 0 instead)
CONFIG = 78  # bad configuration (EX_CONFIG from sysexits.h)
