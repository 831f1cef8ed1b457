#!/usr/bin/env bash
# How fast `flowaudit live` keeps up with a wire: a veth pair between two network namespaces,
# tcpreplay replaying a generated capture into one end at a fixed rate (or --topspeed), flowaudit
# live on the other end. Prints, per rate, what tcpreplay sent, what flowaudit captured, and what the
# kernel dropped. Needs root, tcpreplay and ethtool (Debian: apt-get install tcpreplay ethtool).
#
#   bash bench/live.sh [packets=1000000] [buffer=64M] [rates="250000 500000 1000000 top"]
set -euo pipefail
cd "$(dirname "$0")/.."
packets=${1:-1000000}
buffer=${2:-64M}
rates=${3:-"250000 500000 1000000 top"}
out=bench/out
mkdir -p "$out"
cap="$out/live-replay.pcap"
[ -f "$cap" ] || npx tsx bench/generate.ts --out "$cap" --packets "$packets" --flows 20000 >/dev/null
npm run build >/dev/null

ns_s=fabench-s ns_t=fabench-t
cleanup() { ip netns del $ns_s 2>/dev/null || true; ip netns del $ns_t 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add $ns_s
ip netns add $ns_t
ip link add fab-s netns $ns_s type veth peer name fab-t netns $ns_t
for x in "$ns_s fab-s" "$ns_t fab-t"; do
  set -- $x
  ip -n "$1" link set "$2" up
  ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
done

# cpu-s: flowaudit's CPU seconds (user + system) for the whole replay; pkts/cpu-s: what one core of
# this machine could take if the replay were faster than flowaudit.
printf '%-10s %10s %10s %10s %8s %10s %7s %12s\n' rate sent captured dropped seconds 'pkts/s' cpu-s 'pkts/cpu-s'
for rate in $rates; do
  report="$out/live-report.json"
  rm -f "$report"
  # (libpcap's "no IPv4 address assigned" warning is printed by the binding; a SPAN port has no address)
  ip netns exec $ns_s node dist/cli/main.js live -i fab-s --catalog bmc-cm --buffer-size "$buffer" \
    --report-every 1h --format json --out "$report" --max-flows 100000 &
  pid=$!
  sleep 1.5
  if [ "$rate" = top ]; then speed=--topspeed; else speed="--pps=$rate"; fi
  t0=$(date +%s.%N)
  cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
  sent=$(ip netns exec $ns_t tcpreplay -q -i fab-t $speed "$cap" 2>&1 | awk '/Actual:/ {print $2; exit}')
  t1=$(date +%s.%N)
  sleep 1
  cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
  kill -INT $pid
  wait $pid || true
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).live;
    const [rate, sent, t0, t1, cpu0, cpu1] = process.argv.slice(2);
    const secs = t1 - t0;
    const lost = r.notDelivered ?? 0;
    const cpu = (cpu1 - cpu0) / 100;
    console.log([rate.padEnd(10), sent.padStart(10), String(r.captured).padStart(10), String(lost).padStart(10), secs.toFixed(2).padStart(8), String(Math.round(r.captured / secs)).padStart(10), cpu.toFixed(2).padStart(7), String(Math.round(r.captured / cpu)).padStart(12)].join(" "));
  ' "$report" "$rate" "$sent" "$t0" "$t1" "$cpu0" "$cpu1"
done
