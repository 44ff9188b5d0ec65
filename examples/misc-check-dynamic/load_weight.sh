#!/bin/sh
# load_weight.sh HOST -- exit 1 when HOST is down, else 2 + a weight (0..100)
# derived from its 1-minute load average, read over SSH.
host=$1
load=$(ssh -o BatchMode=yes -o ConnectTimeout=3 "monitor@$host" cut -d' ' -f1 /proc/loadavg 2>/dev/null) || exit 1
weight=$(awk -v l="$load" 'BEGIN { w = int(100 - l * 25); if (w < 0) w = 0; print w }')
exit $((weight + 2))
