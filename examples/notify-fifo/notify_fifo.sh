#!/bin/sh
# notify_fifo.sh FIFO -- started by keepalived with the FIFO as last argument.
# Reads one event per line and logs it; a real reader would update a
# monitoring system or move an elastic IP here.
#   INSTANCE "VI_FIFO" MASTER 150
#   RS [192.0.2.141]:tcp:80 [192.0.2.24]:tcp:80 DOWN
fifo=$1
[ -p "$fifo" ] || { echo "$0: $fifo is not a FIFO" >&2; exit 1; }
trap 'exit 0' TERM
while read -r kind name state prio; do
    logger -t keepalived-fifo "$kind $name $state $prio"
done < "$fifo"
