#!/bin/sh
# Exit 0 when Tomcat answers on HOST:PORT, 1 otherwise.
# Usage: check_tomcat.sh HOST PORT
host=${1:-127.0.0.1}
port=${2:-8080}
curl -fsS -o /dev/null --max-time 3 "http://$host:$port/" || exit 1
exit 0
