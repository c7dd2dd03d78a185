# shellcheck shell=bash
# Sourced by the build scripts. `heartbeat <prefix> <what> &` prints a line every 30 s
# until killed (SIGTERM), so a long cold build never looks hung. Its sleep dies with it: a
# sleep left behind would hold the caller's stdout open for up to 30 s.
heartbeat() {
  local prefix=$1 what=$2 start=$SECONDS sleeper=""
  trap 'kill $sleeper 2>/dev/null; exit 0' TERM
  while true; do
    sleep 30 & sleeper=$!
    wait "$sleeper"
    echo "$prefix: still building $what ($((SECONDS - start)) s so far)"
  done
}
