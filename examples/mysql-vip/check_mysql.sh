#!/bin/sh
# Healthy when the local server answers a trivial query.
# Credentials come from ~mysql/.my.cnf (the script runs as user mysql).
exec mysql --connect-timeout=3 -N -e 'SELECT 1' >/dev/null 2>&1
