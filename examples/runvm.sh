#!/bin/sh
# Boot the VM on the primary host: the original Cuju's runvm.sh, changed only where cuju
# boots differently: cuju instead of qemu-system-x86_64, a kernel and initrd (cuju boots
# Linux directly, no BIOS; -nographic: the console is the serial port, there is no VGA),
# our paths, and share-rw=on on the disk because cuju locks images (the
# backup opens the same image: the original's NFS setup). Override the paths with the
# variables below.
cd "$(dirname "$0")/.."
CUJU=${CUJU:-./bin/cuju.js}
IMAGE=${IMAGE:-examples/disk.img}
MONITOR_DIR=${MONITOR_DIR:-/tmp}
SUDO=$(command -v sudo || true)
$SUDO $CUJU \
-drive if=none,id=drive0,cache=none,format=raw,file=$IMAGE \
-device virtio-blk,drive=drive0,share-rw=on \
-m 1G -enable-kvm \
-net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \
-cpu host \
-kernel guest/out/bzImage -initrd guest/out/initramfs.cpio -append "console=ttyS0 ip=${GUEST_IP:-192.168.11.25}::${GUEST_GW:-192.168.11.254}:255.255.255.0::eth0:off" \
-vga std -nographic -chardev socket,id=mon,path=$MONITOR_DIR/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline
