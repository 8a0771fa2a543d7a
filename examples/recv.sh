#!/bin/sh
# Start the receiver (the backup) on the backup host: the original Cuju's recv.sh, changed
# only as runvm.sh is. Same image (shared), its own tap and monitor, and it waits for the
# primary's state on port 4441 in fault-tolerance mode.
cd "$(dirname "$0")/.."
CUJU=${CUJU:-./bin/cuju.js}
IMAGE=${IMAGE:-examples/disk.img}
MONITOR_DIR=${MONITOR_DIR:-/tmp}
SUDO=$(command -v sudo || true)
$SUDO $CUJU \
-drive if=none,id=drive0,cache=none,format=raw,file=$IMAGE \
-device virtio-blk,drive=drive0,share-rw=on \
-m 1G -enable-kvm \
-net tap,ifname=tap1 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \
-kernel guest/out/bzImage -initrd guest/out/initramfs.cpio -append "console=ttyS0 ip=${GUEST_IP:-192.168.11.25}::${GUEST_GW:-192.168.11.254}:255.255.255.0::eth0:off" \
-vga std -nographic -chardev socket,id=mon,path=$MONITOR_DIR/vm1r.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \
-cpu host \
-incoming tcp:0:4441,ft_mode
