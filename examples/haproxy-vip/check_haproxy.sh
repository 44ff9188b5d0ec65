#!/bin/sh
# Healthy when haproxy runs and its stats socket answers.
pidof haproxy >/dev/null 2>&1 || exit 1
if [ -S /run/haproxy/admin.sock ]; then
    echo "show info" | socat stdio /run/haproxy/admin.sock 2>/dev/null | grep -q '^Name: HAProxy' || exit 1
fi
exit 0
