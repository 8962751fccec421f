#!/usr/bin/env bash
# Captures real Linux kernel VXLAN traffic, for the decoder's fixture and its live test.
#
# Two network namespaces joined by a veth pair (the underlay, 192.168.42.0/24), a kernel vxlan
# device in each (VNI 42, UDP 4789, remote = the other side) with an overlay address
# (10.42.0.0/24), a few pings across the overlay, and the underlay captured on one side with
# dumpcap (`-P`: classic microsecond pcap). Everything created is removed on exit, also on
# failure or interrupt. Needs root, iproute2, ping and dumpcap (tshark's capture engine).
#
# usage: capture-kernel-vxlan.sh OUTPUT.pcap [PING_COUNT]
set -euo pipefail

out=${1:?usage: capture-kernel-vxlan.sh OUTPUT.pcap [PING_COUNT]}
count=${2:-3}
if [ "$(id -u)" != 0 ]; then
  echo "capture-kernel-vxlan: needs root (namespaces)" >&2
  exit 2
fi
for tool in ip ping dumpcap; do
  command -v "$tool" >/dev/null || { echo "capture-kernel-vxlan: $tool not found" >&2; exit 2; }
done

id="$$-${RANDOM}"
ns_a="vnet-kvx-a-$id"
ns_b="vnet-kvx-b-$id"
log=$(mktemp)
cap_pid=""

cleanup() {
  if [ -n "$cap_pid" ] && kill -0 "$cap_pid" 2>/dev/null; then
    kill -INT "$cap_pid" 2>/dev/null || true
    wait "$cap_pid" 2>/dev/null || true
  fi
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT INT TERM

ip netns add "$ns_a"
ip netns add "$ns_b"
# The veth pair is created inside A with its peer moved straight into B, so no name ever
# appears in the root namespace.
ip -n "$ns_a" link add veth0 address 02:00:00:00:a0:01 type veth peer name veth0 netns "$ns_b" address 02:00:00:00:b0:01

setup_side() {
  local ns=$1 underlay=$2 remote=$3 overlay=$4 mac=$5
  # No IPv6: keeps router solicitations and MLD reports out of the capture.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$underlay/24" dev veth0
  ip -n "$ns" link set veth0 up
  # Checksums computed in software, so the capture holds the bytes a peer would receive.
  if command -v ethtool >/dev/null; then
    ip netns exec "$ns" ethtool -K veth0 tx off rx off >/dev/null 2>&1 || true
  fi
  ip -n "$ns" link add vxlan42 address "$mac" type vxlan id 42 dstport 4789 \
    local "$underlay" remote "$remote" dev veth0
  ip -n "$ns" addr add "$overlay/24" dev vxlan42
  ip -n "$ns" link set vxlan42 up
}
setup_side "$ns_a" 192.168.42.1 192.168.42.2 10.42.0.1 02:00:00:00:42:01
setup_side "$ns_b" 192.168.42.2 192.168.42.1 10.42.0.2 02:00:00:00:42:02

ip netns exec "$ns_a" dumpcap -q -i veth0 -f "udp port 4789" -P -w "$out" >"$log" 2>&1 &
cap_pid=$!
# dumpcap says where it writes once the capture is open; wait for that (at most 10 s).
for _ in $(seq 1 100); do
  grep -q "File:" "$log" 2>/dev/null && break
  kill -0 "$cap_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
sleep 0.3

ip netns exec "$ns_a" ping -q -c "$count" -i 0.2 -W 2 10.42.0.2 >/dev/null
sleep 0.5
kill -INT "$cap_pid"
wait "$cap_pid" || true
cap_pid=""
echo "capture-kernel-vxlan: wrote $out"
