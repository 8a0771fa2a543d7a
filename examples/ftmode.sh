#!/bin/sh
# Enter FT mode once the VM is up and the receiver waits: the original's ftmode.sh (HMP
# through nc -U). Change the backup's address (BACKUP) and the monitor path for your setup.
MONITOR=${MONITOR:-/tmp/vm1.monitor}
BACKUP=${BACKUP:-localhost}
SUDO=$(command -v sudo || true)
echo "migrate_set_capability cuju-ft on" | $SUDO nc -w 1 -U $MONITOR
echo "migrate -c tcp:$BACKUP:4441" | $SUDO nc -w 1 -U $MONITOR
