#!/bin/sh
# quorum.sh up|down -- called when the web service gains or loses quorum
logger -t keepalived "web service quorum $1"
