#!/bin/sh
# router_notify.sh master|backup|fault -- toggle forwarding with the group state
case "$1" in
    master) sysctl -qw net.ipv4.ip_forward=1 ;;
    backup|fault) sysctl -qw net.ipv4.ip_forward=0 ;;
esac
logger -t keepalived "VG_ROUTER: $1"
