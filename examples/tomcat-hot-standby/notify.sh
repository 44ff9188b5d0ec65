#!/bin/sh
# Called by keepalived on state changes: notify.sh MASTER|BACKUP|FAULT
# On MASTER, make sure Tomcat runs and the session cache is warm.
state=$1
logger -t keepalived-notify "VI_TOMCAT is now $state"
case "$state" in
    MASTER)
        systemctl start tomcat
        ;;
    BACKUP|FAULT)
        : # keep Tomcat running as a hot standby
        ;;
esac
exit 0
