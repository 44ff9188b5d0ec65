#!/bin/sh
# Run when this node takes the write VIP: stop replicating and accept writes.
mysql -e 'STOP SLAVE; SET GLOBAL read_only = OFF;' && logger -t keepalived "MariaDB promoted to primary"
