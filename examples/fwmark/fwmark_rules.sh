#!/bin/sh
# fwmark_rules.sh add|del -- the mangle rule that marks the VIP's web traffic
case "$1" in
    add) op=-A ;;
    del) op=-D ;;
    *) echo "usage: $0 add|del" >&2; exit 2 ;;
esac
iptables -t mangle $op PREROUTING -d 192.0.2.220 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 1
