#!/usr/bin/env bash
# Rebuild tests/data/dumps/eks_i-0f1e2d3c4b5a69788_2026-01-01_0000-UTC_0.7.9/ from a REAL kernel:
# a throw-away network namespace gets a kube-proxy-shaped nat/filter ruleset (workbook.generate, 6
# services) plus portmap's CNI-HOSTPORT-DNAT jump appended twice to PREROUTING, and the files are
# written by the EKS log collector's own commands (eks-log-collector.sh v0.7.9, get_iptables_info,
# get_networking_info), so the text is exactly what iptables 1.8.9 prints. Needs root. Run from the
# repository root:  bash tests/data/dumps/make-eks-fixture.sh
set -euo pipefail
NS=nfwb-forensics-eksfix-$$
OUT=tests/data/dumps/eks_i-0f1e2d3c4b5a69788_2026-01-01_0000-UTC_0.7.9
PY=${PY:-.venv/bin/python}
cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add eth0 type veth peer name eth0-peer
ip -n "$NS" addr add 192.168.3.215/19 dev eth0
ip -n "$NS" link set eth0 up
"$PY" - > /tmp/$NS.rules <<'PYEOF'
from workbook.generate import generate_services, kube_proxy_save
text = kube_proxy_save(generate_services(6, seed=7))
dup = ("-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n") * 2
text = text.replace("*nat\n", "*nat\n:CNI-HOSTPORT-DNAT - [0:0]\n", 1)
nat = text.index("*nat\n")
end = text.index("COMMIT\n", nat)
text = text[:end] + dup + text[end:]
print(text, end="")
PYEOF
ip netns exec "$NS" iptables-restore < /tmp/$NS.rules
rm -f /tmp/$NS.rules
rm -rf "$OUT"; mkdir -p "$OUT/networking" "$OUT/system" "$OUT/modinfo"
# get_iptables_info (the trailer pipeline is the collector's, verbatim in effect)
for t in mangle filter nat; do
  ip netns exec "$NS" iptables --wait 1 --numeric --verbose --list --table $t | tee "$OUT/networking/iptables-$t.txt" \
    | sed '/^num\|^$\|^Chain\|^\ pkts.*.destination/d' | echo -e "=======\nTotal Number of Rules: $(wc -l)" >> "$OUT/networking/iptables-$t.txt"
done
ip netns exec "$NS" iptables --wait 1 --numeric --verbose --list | tee "$OUT/networking/iptables.txt" \
  | sed '/^num\|^$\|^Chain\|^\ pkts.*.destination/d' | echo -e "=======\nTotal Number of Rules: $(wc -l)" >> "$OUT/networking/iptables.txt"
ip netns exec "$NS" iptables-save > "$OUT/networking/iptables-save.txt"
ip netns exec "$NS" ip6tables-save > "$OUT/networking/ip6tables-save.txt"
ip netns exec "$NS" ip route show table all > "$OUT/networking/iproute.txt"
ip netns exec "$NS" ip rule show > "$OUT/networking/iprule.txt"
# get_modinfo (`lsmod | grep -e ip_vs -e nf_conntrack`): the build machine has no /proc/modules, so
# the grep is applied to the real lsmod of the EKS node ip-192-168-3-215 in the seed post instead
sed -n '/^\[root@ip-192-168-3-215 modules-load.d\]# lsmod$/,/^nfnetlink /p' ../shared/seed/000_81fac245e6421696.txt \
  | sed 1d | grep -v '^$' | grep -e ip_vs -e nf_conntrack > "$OUT/modinfo/ip_vs"
echo "i-0f1e2d3c4b5a69788" > "$OUT/system/instance-id.txt"
echo "ap-northeast-2" > "$OUT/system/region.txt"
echo "built by $0"
