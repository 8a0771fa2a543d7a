#!/bin/sh
# The original's other way to start the receiver: derive it from runvm.sh with sed
# (its own monitor and tap, plus -incoming ... ft_mode), then run it. tmp.sh is generated.
cd "$(dirname "$0")"
sed -e 's/mode=readline/mode=readline -incoming tcp\:0\:4441,ft_mode/g' -e 's/vm1.monitor/vm1r.monitor/g' -e 's/tap0/tap1/g' ./runvm.sh > tmp.sh
chmod +x ./tmp.sh
./tmp.sh
